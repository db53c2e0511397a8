# Fuzz targets (libFuzzer + ASan + UBSan, clang).  Run from the repo root:
#   make fuzz                      build every tests/fuzz/fuzz_*.c and run each FUZZ_TIME seconds
#   make fuzz FUZZ_TIME=600        longer (nightly)
#   make -f tests/fuzz/fuzz.mk build-fuzz/fuzz_pipeline   build one target
# Each target links the whole library (every product source but main.c, and
# the embedded manifests) compiled with clang.  Seeds: tests/fuzz/seeds/<target>/,
# plus per target: the recorded AWS replies (bodies) for fuzz_aws_*,
# examples/*.yaml for fuzz_spec and fuzz_pipeline, and a real state file
# that fuzz_state writes itself.  The corpus grows in build-fuzz/corpus/<target>;
# crashes land in build-fuzz/artifacts/<target>/.  Notes: docs/fuzzing.md.

FCC       ?= clang
FUZZ_TIME ?= 20
FB        := build-fuzz
PKGS      := libcurl jansson yaml-0.1 sqlite3 openssl libxml-2.0 libgit2
FCFLAGS   := -g -O1 -std=c11 -D_GNU_SOURCE -DSECFAAS_VERSION='"fuzz"' -I. -Ilib \
             -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
             $(shell pkg-config --cflags $(PKGS))
FLIBS     := $(shell pkg-config --libs $(PKGS)) -lpthread -lm
SRCS      := $(filter-out provisioner/cli/main.c,$(wildcard lib/*.c provisioner/*/*.c resources/*.c state/*.c aws/*.c kube/*.c))
EMBED     := $(sort $(wildcard manifests/*.yaml manifests/*.sh manifests/*.toml manifests/*.tmpl manifests/*/*.yaml manifests/*/*.py))
OBJS      := $(SRCS:%.c=$(FB)/obj/%.o) $(FB)/obj/gen/embedded.o
TARGETS   := $(patsubst tests/fuzz/%.c,$(FB)/%,$(wildcard tests/fuzz/fuzz_*.c))

.SECONDARY:
.PHONY: all run
all: run

$(FB)/gen/embedded.c: $(EMBED) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh $@ $(EMBED)

$(FB)/obj/gen/embedded.o: $(FB)/gen/embedded.c
	@mkdir -p $(dir $@)
	$(FCC) $(FCFLAGS) -c $< -o $@

$(FB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FCC) $(FCFLAGS) -c $< -o $@

$(FB)/libfuzz.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FB)/%: tests/fuzz/%.c $(FB)/libfuzz.a
	@mkdir -p $(dir $@)
	$(FCC) $(FCFLAGS) -fsanitize=fuzzer $< $(FB)/libfuzz.a -o $@ $(FLIBS)

# seeds NAME CORPUS: copy the seeds of target NAME into CORPUS.
run: $(TARGETS)
	@set -e; for t in $(TARGETS); do \
		n=$$(basename $$t); c=$(FB)/corpus/$$n; a=$(FB)/artifacts/$$n/; \
		mkdir -p $$c $$a; \
		case $$n in \
		fuzz_aws_*) for f in tests/aws/replies/*.http; do \
			sed '1,/^\r\{0,1\}$$/d' "$$f" > "$$c/seed-$$(basename $$f .http)"; done ;; \
		fuzz_spec|fuzz_pipeline) for f in examples/*.yaml; do cp "$$f" "$$c/seed-$$(basename $$f)"; done ;; \
		fuzz_state) FUZZ_STATE_SEED=$$c/seed-state.db $$t -runs=0 >/dev/null 2>&1 || true ;; \
		esac; \
		if [ -d tests/fuzz/seeds/$$n ]; then cp tests/fuzz/seeds/$$n/* $$c/ 2>/dev/null || true; fi; \
		echo "fuzz: $$n for $(FUZZ_TIME)s"; \
		ASAN_OPTIONS=detect_leaks=1 $$t -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=25 \
			-artifact_prefix=$$a -print_final_stats=1 $$c >$(FB)/$$n.log 2>&1 \
			|| { tail -n 40 $(FB)/$$n.log; echo "fuzz: $$n FAILED (log $(FB)/$$n.log)"; exit 1; }; \
		execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FB)/$$n.log); \
		cov=$$(grep -o 'cov: [0-9]*' $(FB)/$$n.log | tail -n 1); \
		echo "fuzz: $$n ok: $$execs runs, $$cov, corpus $$(ls $$c | wc -l) inputs"; \
	done
