#!/bin/sh
# Install the Debian packages secfaas needs to build and test, only if missing;
# `deps.sh bench` adds what the benchmarks' peers run (Ansible, bench/peers).
# Idempotent and non-interactive; safe to run on every `make demo`.
set -eu
PKGS="build-essential pkg-config git ca-certificates curl openssl sqlite3 \
libcurl4-openssl-dev libjansson-dev libyaml-dev libsqlite3-dev libpq-dev libssl-dev libxml2-dev libgit2-dev \
python3 python3-botocore python3-boto3 python3-yaml python3-jsonschema python3-cryptography awscli \
runsc containerd containernetworking-plugins iproute2 nftables busybox-static postgresql postgresql-client shellcheck clang libclang-rt-14-dev valgrind cppcheck"
[ "${1:-}" != bench ] || PKGS="$PKGS ansible"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "deps: all Debian packages present"
	exit 0
fi
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
