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
# Parallelism: LINT_JOBS (default: the number of online CPUs).  cppcheck and clang-tidy
# findings are cached per file (LINT_CACHE, see per_file below).
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

# per_file ANALYZER ARG: runs ANALYZER (cppcheck, or clang-tidy with the
# checks ARG) on every product C file, $jobs files at a time; prints its
# findings and fails if there are any.  A file's findings are kept in
# $LINT_CACHE (default: beside OBJDIR) under a hash of the analyzer, ARG,
# its version, the file and every header of the tree, so a run analyses
# again only what changed since the last one (the analyzers are most of
# lint's time); an analysis that did not end cleanly is never kept.
cache=${LINT_CACHE:-$obj/../lint-cache}
per_file() {
	mkdir -p "$cache" || return 1
	tool=$1
	[ "$tool" = tidy ] && tool=clang-tidy
	base=$({
		echo "$1 $2"
		"$tool" --version
		git ls-files -z '*.h' | xargs -0 cat
	} | sha256sum | cut -c1-64)
	# what is kept is printed as it is; the rest is analysed
	found=""
	todo=""
	# shellcheck disable=SC2086 # one file name per word
	sums=$(sha256sum $PRODUCT_C </dev/null)
	while read -r h f; do
		[ -n "$f" ] || continue
		if [ -f "$cache/$base-$h" ]; then
			[ ! -s "$cache/$base-$h" ] || found="$found$(cat "$cache/$base-$h")
"
		else
			todo="$todo$f
"
		fi
	done <<EOF
$sums
EOF
	out=$(printf '%s' "$todo" | tr '\n' '\0' | xargs -0 -r -n 4 -P "$jobs" sh -c '
		kind=$1 arg=$2 base=$3 cache=$4
		shift 4
		for f in "$@"; do
			key=$base-$(sha256sum "$f" | cut -c1-64)
			case $kind in
			tidy)
				clang-tidy --quiet -checks="$arg" "$f" -- -std=c11 -D_GNU_SOURCE -DSECFAAS_VERSION=\"lint\" \
					-I. -Ilib $(pkg-config --cflags libxml-2.0 libpq) >"$cache/$key.$$.all" 2>/dev/null
				st=$?
				grep -E "warning:|error:" "$cache/$key.$$.all" >"$cache/$key.$$"
				rm -f "$cache/$key.$$.all"
				;;
			cppcheck)
				cppcheck --quiet --enable=warning,portability --error-exitcode=1 --inline-suppr \
					--suppress=unknownMacro -D_GNU_SOURCE -I. -Ilib --suppress=missingIncludeSystem "$f" \
					>"$cache/$key.$$" 2>&1
				st=$?
				;;
			esac
			[ "$st" -eq 0 ] || [ -s "$cache/$key.$$" ] || echo "$f: $kind ended with status $st"
			cat "$cache/$key.$$"
			if [ "$st" -eq 0 ]; then
				mv "$cache/$key.$$" "$cache/$key"
			else
				rm -f "$cache/$key.$$"
			fi
		done
		exit 0' per_file "$1" "$2" "$base" "$cache")
	out="$found$out"
	if [ -n "$out" ]; then
		printf '%s\n' "$out" | sed '/^$/d'
		return 1
	fi
	return 0
}
# Checks left out: style or noise for this code base (string compares by
# strcmp() result, size_t arithmetic, intentionally similar branches, the
# sf_ prefix, assignment in conditions, insecureAPI's memcpy advice).
OFF='-bugprone-suspicious-string-compare,-bugprone-implicit-widening-of-multiplication-result,-bugprone-branch-clone,-bugprone-sizeof-expression,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition'
if step cppcheck; then
	echo "lint: cppcheck"
	per_file cppcheck "" || rc=1
fi

if step tidy; then
	echo "lint: clang-tidy (bugprone, cert-str34-c)"
	per_file tidy "-*,bugprone-*,cert-str34-c,$OFF" || rc=1
	if [ $all -eq 1 ]; then
		echo "lint: clang-tidy (clang-analyzer)"
		per_file tidy "-*,clang-analyzer-*,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling" || rc=1
	fi
fi

if step shellcheck; then
	echo "lint: shellcheck"
	# A few files per process, $jobs processes at a time: one process
	# over every script kept one core busy and the other idle.
	printf '%s\n' tools/*.sh tests/run tests/lib.sh tests/sim.sh tests/pg.sh tests/*/test.sh bench/*.sh \
		bench/*/run.sh bench/peers/*/*.sh .ci/run manifests/*.sh |
		xargs -n 6 -P "$jobs" shellcheck -s sh -S warning 2>&1 || rc=1
fi
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
