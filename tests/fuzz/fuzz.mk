# Fuzz targets (libFuzzer + ASan, clang).  Run from the repo root:
#   make fuzz                      build every tests/fuzz/fuzz_*.c and run each FUZZ_TIME seconds
#   make fuzz FUZZ_TIME=600        longer (nightly)
#   make -f tests/fuzz/fuzz.mk build-fuzz/fuzz_aws_xml   build one target
# Each target links lib/*.c and aws/*.c compiled with clang; seeds come from
# the recorded replies (tests/aws/replies, bodies only) and tests/fuzz/seeds/<target>/.
# Crashes land in build-fuzz/artifacts/<target>/.

FCC       ?= clang
FUZZ_TIME ?= 20
FB        := build-fuzz
PKGS      := libcurl jansson yaml-0.1 sqlite3 openssl libxml-2.0 libgit2
FCFLAGS   := -g -O1 -std=c11 -D_GNU_SOURCE -DSECFAAS_VERSION='"fuzz"' -I. -Ilib \
             -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
             $(shell pkg-config --cflags $(PKGS))
FLIBS     := $(shell pkg-config --libs $(PKGS)) -lpthread -lm
SRCS      := $(filter-out lib/embed.c,$(wildcard lib/*.c)) $(filter-out aws/replay.c,$(wildcard aws/*.c)) provisioner/spec/spec.c
OBJS      := $(SRCS:%.c=$(FB)/obj/%.o)
TARGETS   := $(patsubst tests/fuzz/%.c,$(FB)/%,$(wildcard tests/fuzz/fuzz_*.c))

.SECONDARY:
.PHONY: all run
all: run

$(FB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FCC) $(FCFLAGS) -c $< -o $@

$(FB)/%: tests/fuzz/%.c $(OBJS)
	@mkdir -p $(dir $@)
	$(FCC) $(FCFLAGS) -fsanitize=fuzzer $< $(OBJS) -o $@ $(FLIBS)

run: $(TARGETS)
	@set -e; for t in $(TARGETS); do \
		n=$$(basename $$t); c=$(FB)/corpus/$$n; a=$(FB)/artifacts/$$n/; \
		mkdir -p $$c $$a; \
		for f in tests/aws/replies/*.http; do \
			sed '1,/^\r\{0,1\}$$/d' "$$f" > "$$c/seed-$$(basename $$f .http)"; done; \
		if [ -d tests/fuzz/seeds/$$n ]; then cp tests/fuzz/seeds/$$n/* $$c/ 2>/dev/null || true; fi; \
		echo "fuzz: $$n for $(FUZZ_TIME)s"; \
		ASAN_OPTIONS=detect_leaks=1 $$t -max_total_time=$(FUZZ_TIME) -max_len=65536 \
			-artifact_prefix=$$a -print_final_stats=0 $$c >$(FB)/$$n.log 2>&1 \
			|| { tail -n 40 $(FB)/$$n.log; echo "fuzz: $$n FAILED (log $(FB)/$$n.log)"; exit 1; }; \
		tail -n 1 $(FB)/$$n.log; \
	done
