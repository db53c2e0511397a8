# lib.sh - shared by tests/bake/test.sh and tests/sandbox/test.sh (sourced).
# Pass/fail counting and the render driver. Expects SECFAAS_SRC,
# SECFAAS_BUILD and a private TMPDIR (tests/run sets them).
# shellcheck shell=sh

: "${SECFAAS_SRC:=$(pwd)}"
: "${SECFAAS_BUILD:=$SECFAAS_SRC/build}"
: "${TMPDIR:?run through tests/run (it sets a private TMPDIR)}"
PASS=0
FAIL=0

ok() {
	PASS=$((PASS + 1))
	echo "ok   $*"
}
fail() {
	FAIL=$((FAIL + 1))
	echo "FAIL $*"
}
# check NAME CMD...: run CMD, count pass/fail by its exit status.
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name"; fi
}
finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# build_driver: compile tests/bake/render-driver.c against the library into
# $TMPDIR/render-driver (the same render.c the CLI uses). Sets DRIVER.
build_driver() {
	DRIVER=$TMPDIR/render-driver
	lib=$SECFAAS_BUILD/libsecfaas.a
	if [ ! -f "$lib" ]; then
		echo "FAIL $lib missing: run make first"
		return 1
	fi
	# An ASan/UBSan library (make check) needs the same runtime in the driver.
	san=""
	if nm "$lib" 2>/dev/null | grep -q __asan_init; then
		san="-fsanitize=address,undefined"
	fi
	# shellcheck disable=SC2046,SC2086 # word lists
	cc -std=c11 -D_GNU_SOURCE $san -I"$SECFAAS_SRC" -I"$SECFAAS_SRC/lib" -o "$DRIVER" \
		"$SECFAAS_SRC/tests/bake/render-driver.c" "$lib" \
		$(pkg-config --libs libcurl jansson yaml-0.1 sqlite3 openssl libxml-2.0 libgit2) -lpthread -lm
}
