#!/bin/sh
# make lint / make lint-all: static checks. Fails on findings.
#
#   sh tools/lint.sh [--all] [OBJDIR]
#
# make lint (quick, meant to run before every commit):
#  - banned calls (sprintf, strcpy, strcat, strtok, atoi, gets) in our C,
#    and a provider guessed from a type name's prefix
#  - the layer check (tools/layers.sh over tools/layers.txt): includes and,
#    with the objects in OBJDIR (default build/obj), calls
#  - comments and documents name only files of this tree (tools/refs.py)
#  - test suites start the local AWS through sim_suite (tests/lib.sh), the
#    one start-up every suite shares, never by hand
#  - cppcheck --enable=warning,portability
#  - clang-tidy bugprone-* and cert-str34-c, files in parallel
#  - shellcheck on every shell script we ship
# make lint-all adds the slow analyzers: clang-tidy clang-analyzer-*.
# Parallelism: LINT_JOBS (default: the number of online CPUs).
# LINT_ONLY="layers refs" runs only the named steps (banned, layers, refs,
# sims, cppcheck, tidy, shellcheck), as tests/lint does on a copied tree.
set -u
cd "$(dirname "$0")/.." || exit 2
all=0
if [ "${1:-}" = --all ]; then
	all=1
	shift
fi
obj=${1:-build/obj}
jobs=${LINT_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)}
rc=0
# step NAME: whether this run includes step NAME (LINT_ONLY)
step() {
	case " ${LINT_ONLY:-$1} " in *" $1 "*) return 0 ;; esac
	return 1
}
SRC=$(git ls-files '*.c' '*.h' | grep -v '^tests/fuzz/seeds/')
PRODUCT_C=$(git ls-files 'lib/*.c' 'provisioner/*.c' 'resources/*.c' 'state/*.c' 'aws/*.c' 'kube/*.c')

if step banned; then
	echo "lint: banned calls"
	# shellcheck disable=SC2086 # one file name per word
	if grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|gets)\s*\(' $SRC </dev/null | grep -v 'snprintf\|vsnprintf\|asprintf'; then
		echo "lint: banned call(s) above"
		rc=1
	fi
	# A type's family comes from its provider descriptor
	# (resources/provider.h, sf_provider_of), never from its name.
	# shellcheck disable=SC2086 # one file name per word
	if grep -nE 'str(n)?cmp\([^;]*"(aws|eks|k8s|local|test)_"' $PRODUCT_C </dev/null; then
		echo "lint: a provider guessed from a type name's prefix above; ask sf_provider_of() (resources/provider.h)"
		rc=1
	fi
fi

if step layers; then
	echo "lint: layers"
	sh tools/layers.sh -o "$obj" || rc=1
fi

if step refs; then
	echo "lint: file names in comments and documents"
	python3 tools/refs.py . || rc=1
fi

if step sims; then
	echo "lint: suites start the local AWS through sim_suite"
	# tests/aws tests tests/sim.sh itself, so it calls sim_awssim directly.
	for f in tests/*/test.sh; do
		[ -f "$f" ] && [ "$f" != tests/aws/test.sh ] || continue
		if grep -nE '^[[:space:]]*(if[[:space:]]+|!?[[:space:]]*)sim_awssim[[:space:]]' "$f" /dev/null; then
			echo "lint: start a suite's local AWS with sim_suite (tests/lib.sh), not sim_awssim by hand"
			rc=1
		fi
	done
fi

if step cppcheck; then
	echo "lint: cppcheck"
	cppcheck --quiet -j "$jobs" --enable=warning,portability --error-exitcode=1 --inline-suppr --suppress=unknownMacro \
		-D_GNU_SOURCE -I. -Ilib --suppress=missingIncludeSystem lib provisioner resources state aws kube 2>&1 || rc=1
fi

# tidy CHECKS: clang-tidy over the product C files, $jobs at a time; prints
# findings and fails if there are any.
tidy() {
	out=$(echo "$PRODUCT_C" | tr '\n' '\0' | xargs -0 -n 4 -P "$jobs" sh -c '
		checks=$1
		shift
		for f in "$@"; do
			clang-tidy --quiet -checks="$checks" "$f" -- -std=c11 -D_GNU_SOURCE -DSECFAAS_VERSION=\"lint\" \
				-I. -Ilib $(pkg-config --cflags libxml-2.0 libpq) 2>/dev/null | grep -E "warning:|error:"
		done
		exit 0' tidy "$1")
	if [ -n "$out" ]; then
		echo "$out"
		return 1
	fi
	return 0
}
# Checks left out: style or noise for this code base (string compares by
# strcmp() result, size_t arithmetic, intentionally similar branches, the
# sf_ prefix, assignment in conditions, insecureAPI's memcpy advice).
OFF='-bugprone-suspicious-string-compare,-bugprone-implicit-widening-of-multiplication-result,-bugprone-branch-clone,-bugprone-sizeof-expression,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition'
if step tidy; then
	echo "lint: clang-tidy (bugprone, cert-str34-c)"
	tidy "-*,bugprone-*,cert-str34-c,$OFF" || rc=1
	if [ $all -eq 1 ]; then
		echo "lint: clang-tidy (clang-analyzer)"
		tidy "-*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling" || rc=1
	fi
fi

if step shellcheck; then
	echo "lint: shellcheck"
	shellcheck -s sh -S warning tools/*.sh tests/run tests/lib.sh tests/sim.sh tests/pg.sh tests/*/test.sh bench/*.sh \
		bench/*/run.sh bench/peers/*/*.sh .ci/run manifests/*.sh 2>&1 || rc=1
fi
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
