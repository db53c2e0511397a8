# secfaas build.  Sources are picked up by directory (wildcards), so adding a
# module or a resource type is adding a file; no edits here.
#
#   make deps     install the Debian packages the build and tests need (idempotent)
#   make          build ./build/secfaas
#   make test     deps, then unit tests + suites (the suites start the local AWS and
#                 Kubernetes simulators and a private containerd themselves)
#   make check    the same tests under ASan+UBSan (build-asan/)
#   make demo     deps + build, then plan/apply/show/destroy an example cluster locally
#   make sim      start the local AWS and Kubernetes simulators, print the export lines
#                 a secfaas session needs, run until Ctrl-C (tools/sim)
#   make fuzz     build and run the libFuzzer targets briefly (clang)
#   make lint     layer check (tools/layers.txt), banned calls, cppcheck, clang-tidy
#                 (bugprone), shellcheck: the quick checks, run before committing
#   make lint-all lint + the slow analyzers (clang-tidy clang-analyzer-*)
#   make install  PREFIX=/usr/local DESTDIR= (binary, modules, manifests, man page,
#                 bash/zsh/fish completion)
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
B       ?= build
SAN     ?=
V       ?= 0
Q       := $(if $(filter 1,$(V)),,@)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

PKGS    := libcurl jansson yaml-0.1 sqlite3 libpq openssl libxml-2.0 libgit2
OPT     ?= -O2 -g
WARN    := -std=c11 -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
           -Wmissing-prototypes -Wvla -Wno-format-nonliteral -Wno-format-truncation
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SANFLAGS := $(if $(SAN),$(SANITIZE))
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# The binary loads these when a command first needs them (lib/dl.h), by the
# soname of the library the headers came from; everything else is linked.
LAZY_PKGS  := libcurl libpq libxml-2.0 libgit2
EAGER_LIBS := $(shell pkg-config --libs $(filter-out $(LAZY_PKGS),$(PKGS)) 2>/dev/null)
soname = $(shell objdump -p "$$(pkg-config --variable=libdir $(1))/$(2).so" 2>/dev/null | awk '$$1 == "SONAME" {print $$2}')
SONAMES := -DSF_SONAME_CURL='"$(or $(call soname,libcurl,libcurl),libcurl.so.4)"' \
           -DSF_SONAME_PQ='"$(or $(call soname,libpq,libpq),libpq.so.5)"' \
           -DSF_SONAME_XML2='"$(or $(call soname,libxml-2.0,libxml2),libxml2.so.2)"' \
           -DSF_SONAME_GIT2='"$(or $(call soname,libgit2,libgit2),libgit2.so.1.5)"'
ALL_CFLAGS := $(OPT) $(WARN) $(SANFLAGS) -D_GNU_SOURCE -DSECFAAS_VERSION='"$(VERSION)"' \
              -I. -Ilib $(PKG_CFLAGS) $(SONAMES) $(CFLAGS)
ALL_LDFLAGS := $(SANFLAGS) $(LDFLAGS)
LIBS    := $(PKG_LIBS) -lpthread -lm

LIBSRC  := $(filter-out provisioner/cli/main.c,$(wildcard lib/*.c provisioner/*/*.c resources/*.c state/*.c aws/*.c kube/*.c))
EMBED   := $(sort $(wildcard manifests/*.yaml manifests/*.sh manifests/*.toml manifests/*.tmpl manifests/*/*.yaml manifests/*/*.py))
LIBOBJ  := $(LIBSRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/embedded.o
TESTSRC := $(wildcard tests/unit/test_*.c)
TESTBIN := $(TESTSRC:tests/unit/%.c=$(B)/tests/%)
TESTSUP := $(filter-out $(TESTSRC),$(wildcard tests/unit/*.c))
TESTSUPOBJ := $(TESTSUP:%.c=$(B)/obj/%.o)
# The man page and completion scripts are printed by the binary from the
# tables --help uses (provisioner/cli/cmd_completion.c).
DOCS    := $(B)/secfaas.1 $(B)/completion/secfaas.bash $(B)/completion/_secfaas $(B)/completion/secfaas.fish

.SECONDARY:
.PHONY: all deps test check demo sim fuzz lint lint-all install clean unit bench soak
all: $(B)/secfaas $(DOCS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $<')
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

$(B)/gen/embedded.c: $(EMBED) tools/embed.sh
	@mkdir -p $(dir $@)
	sh tools/embed.sh $@ $(EMBED)

$(B)/obj/gen/embedded.o: $(B)/gen/embedded.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(B)/libsecfaas.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/secfaas: $(B)/obj/provisioner/cli/main.o $(B)/libsecfaas.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(EAGER_LIBS) -lpthread -lm -ldl

$(B)/secfaas.1: $(B)/secfaas
	$(B)/secfaas completion man >$@.tmp && mv $@.tmp $@

$(B)/completion/secfaas.bash: $(B)/secfaas
	@mkdir -p $(dir $@)
	$(B)/secfaas completion bash >$@.tmp && mv $@.tmp $@

$(B)/completion/_secfaas: $(B)/secfaas
	@mkdir -p $(dir $@)
	$(B)/secfaas completion zsh >$@.tmp && mv $@.tmp $@

$(B)/completion/secfaas.fish: $(B)/secfaas
	@mkdir -p $(dir $@)
	$(B)/secfaas completion fish >$@.tmp && mv $@.tmp $@

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(TESTSUPOBJ) $(B)/libsecfaas.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

unit: $(TESTBIN) $(B)/secfaas

# The build (binary, man page, completions: the help suite checks them),
# then the runner: every unit binary and every tests/*/test.sh suite; it
# ends with "N passed, N failed".
test: deps
	$(MAKE) all unit
	SECFAAS_BUILD=$(abspath $(B)) tests/run

check:
	$(MAKE) B=build-asan SAN=1 OPT="-O1 -g" test

deps:
	@sh tools/deps.sh

demo: deps
	$(MAKE) all
	sh tools/demo.sh $(abspath $(B))/secfaas

sim: deps
	$(MAKE) all
	sh tools/sim

# The long reliability runs (tests/reliability/soak.sh): minutes, not in `make test`.
soak: all
	SECFAAS_BUILD=$(abspath $(B)) sh tests/reliability/soak.sh

fuzz:
	$(MAKE) -f tests/fuzz/fuzz.mk

# The layer check maps calls through the objects, so lint builds them first.
lint: all
	sh tools/lint.sh $(B)/obj

lint-all: all
	sh tools/lint.sh --all $(B)/obj

bench: all
	@sh tools/deps.sh bench
	sh bench/run.sh $(abspath $(B))/secfaas

install: $(B)/secfaas $(DOCS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/secfaas/modules \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 $(B)/secfaas $(DESTDIR)$(PREFIX)/bin/secfaas
	install -m 0644 $(B)/secfaas.1 $(DESTDIR)$(PREFIX)/share/man/man1/secfaas.1
	install -m 0644 $(B)/completion/secfaas.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/secfaas
	install -m 0644 $(B)/completion/_secfaas $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_secfaas
	install -m 0644 $(B)/completion/secfaas.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/secfaas.fish
	install -m 0644 modules/*.yaml $(DESTDIR)$(PREFIX)/share/secfaas/modules/
	cp -R manifests $(DESTDIR)$(PREFIX)/share/secfaas/

clean:
	rm -rf build build-asan build-fuzz

-include $(LIBOBJ:.o=.d) $(B)/obj/provisioner/cli/main.d $(TESTSRC:tests/unit/%.c=$(B)/obj/tests/unit/%.d)
