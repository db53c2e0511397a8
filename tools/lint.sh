#!/bin/sh
# make lint: static checks. Fails on findings.
#  - banned calls (sprintf, strcpy, strcat, strtok, atoi, gets) in our C
#  - cppcheck --enable=warning,portability
#  - clang-tidy (bugprone-*, clang-analyzer-*, selected cert-*) on changed-prone dirs
#  - shellcheck on every shell script we ship
set -u
cd "$(dirname "$0")/.." || exit 2
rc=0
SRC=$(git ls-files '*.c' '*.h' | grep -v '^tests/fuzz/seeds/')
echo "lint: banned calls"
if grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|gets)\s*\(' $SRC | grep -v 'snprintf\|vsnprintf\|asprintf'; then
	echo "lint: banned call(s) above"
	rc=1
fi
echo "lint: cppcheck"
cppcheck --quiet --enable=warning,portability --error-exitcode=1 --inline-suppr --suppress=unknownMacro -D_GNU_SOURCE \
	-I. -Ilib --suppress=missingIncludeSystem lib provisioner resources state aws kube 2>&1 || rc=1
echo "lint: clang-tidy"
# shellcheck disable=SC2089,SC2090 # the escaped quotes make SECFAAS_VERSION a string literal
CFLAGS_T="-std=c11 -D_GNU_SOURCE -DSECFAAS_VERSION=\"lint\" -I. -Ilib $(pkg-config --cflags libxml-2.0)"
for f in $(git ls-files 'lib/*.c' 'provisioner/*.c' 'resources/*.c' 'state/*.c' 'aws/*.c' 'kube/*.c'); do
	# shellcheck disable=SC2090,SC2086
	out=$(clang-tidy --quiet -checks='-*,bugprone-*,clang-analyzer-*,cert-str34-c,-bugprone-suspicious-string-compare,-bugprone-implicit-widening-of-multiplication-result,-bugprone-branch-clone,-bugprone-sizeof-expression,-bugprone-easily-swappable-parameters,-bugprone-reserved-identifier,-bugprone-narrowing-conversions,-bugprone-assignment-in-if-condition,-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling' \
		"$f" -- $CFLAGS_T 2>/dev/null | grep -E 'warning:|error:')
	if [ -n "$out" ]; then
		echo "$out"
		rc=1
	fi
done
echo "lint: shellcheck"
shellcheck -s sh -S warning tools/*.sh tests/run tests/lib.sh tests/*/test.sh bench/*.sh bench/*/run.sh bench/peers/*/*.sh .ci/run manifests/*.sh 2>&1 || rc=1
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc
