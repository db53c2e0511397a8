#!/bin/sh
# Integration: the C AWS client (via tests/aws/drive.c) against awssim over
# loopback, plain HTTP and HTTPS with a test CA (AWS_CA_BUNDLE): every
# protocol, error shapes, retries on injected faults, credential sources
# (env, profile keys, assume-role chain, web identity, credential_process)
# and the EKS token (its presigned URL must verify at the simulator).
# Env from tests/run: SECFAAS_BUILD, SECFAAS_SRC, TMPDIR.
set -u
SRC=${SECFAAS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SECFAAS_BUILD:-$SRC/build}
T=${TMPDIR:-/tmp}/awsint.$$
mkdir -p "$T"
pass=0
fail=0
# shellcheck disable=SC2034 # read by tests/sim.sh
SIM_SRC=$SRC
# shellcheck source=tests/sim.sh
. "$SRC/tests/sim.sh"
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

finish() {
	sim_stop_all
	rm -rf "$T"
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit $?
}
trap finish EXIT INT TERM

if [ ! -x "$SRC/tests/awssim/awssim" ] || [ ! -f "$BUILD/libsecfaas.a" ]; then
	echo "skip: awssim or $BUILD/libsecfaas.a missing"
	exit 0
fi

# the driver: compiled here against the library under test
DRIVE=$T/drive
PKGS="libcurl jansson yaml-0.1 sqlite3 openssl libxml-2.0 libgit2"
SANF=""
case "$BUILD" in *asan*) SANF="-fsanitize=address,undefined" ;; esac
# shellcheck disable=SC2046
if ! cc -std=c11 -D_GNU_SOURCE $SANF -I"$SRC" -I"$SRC/lib" $(pkg-config --cflags $PKGS) -o "$DRIVE" \
	"$SRC/tests/aws/drive.c" "$BUILD/libsecfaas.a" $(pkg-config --libs $PKGS) -lpthread -lm 2>"$T/cc.log"; then
	cat "$T/cc.log"
	bad "building tests/aws/drive.c"
	exit 1
fi

clean_env() {
	unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL \
		AWS_WEB_IDENTITY_TOKEN_FILE AWS_ROLE_ARN AWS_CA_BUNDLE AWS_MAX_ATTEMPTS || true
	export AWS_EC2_METADATA_DISABLED=true AWS_REGION=eu-west-1
	export AWS_CONFIG_FILE="$T/none" AWS_SHARED_CREDENTIALS_FILE="$T/none"
}

expect() { # name, want-substring, command...
	name=$1 want=$2
	shift 2
	out=$("$@" 2>&1)
	case "$out" in *"$want"*) ok ;; *) bad "$name: wanted '$want', got: $out" ;; esac
}

run_suite() { # label
	L=$1
	clean_env
	export AWS_ENDPOINT_URL="$AWSSIM_URL"
	[ -n "${CA:-}" ] && export AWS_CA_BUNDLE="$CA"
	export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

	expect "$L whoami" "123456789012 arn:aws:iam::123456789012:user/" "$DRIVE" whoami
	expect "$L ec2 create vpc" '"vpcId":"vpc-' "$DRIVE" query ec2 CreateVpc '{"CidrBlock":"10.0.0.0/16","TagSpecification":[{"ResourceType":"vpc","Tag":[{"Key":"secfaas:stack","Value":"it"}]}]}'
	expect "$L ec2 filter" '"vpcSet":[{' "$DRIVE" query ec2 DescribeVpcs '{"Filter":[{"Name":"tag:secfaas:stack","Value":["it"]}]}'
	expect "$L ec2 notfound" "error not_found InvalidVpcID.NotFound 400" "$DRIVE" query ec2 DeleteVpc '{"VpcId":"vpc-0000000000000dead"}'
	# classic ELB (2012-06-01) shares the elasticloadbalancing endpoint and signing name
	expect "$L classic elb query" '"LoadBalancerDescriptions"' "$DRIVE" query elb DescribeLoadBalancers '{}'
	expect "$L iam create web-identity role" '"Arn":"arn:aws:iam::123456789012:role/ci-role"' "$DRIVE" query iam CreateRole \
		'{"RoleName":"ci-role","AssumeRolePolicyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Federated\":\"arn:aws:iam::123456789012:oidc-provider/token.actions.example.com\"},\"Action\":\"sts:AssumeRoleWithWebIdentity\"}]}"}'
	expect "$L iam create role" '"Arn":"arn:aws:iam::123456789012:role/it-role"' "$DRIVE" query iam CreateRole \
		'{"RoleName":"it-role","AssumeRolePolicyDocument":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},\"Action\":\"sts:AssumeRole\"}]}","Tags":[{"Key":"a","Value":"b"}]}'
	expect "$L iam conflict" "error conflict EntityAlreadyExists 409" "$DRIVE" query iam CreateRole \
		'{"RoleName":"it-role","AssumeRolePolicyDocument":"{}"}'
	expect "$L iam notfound" "error not_found NoSuchEntity 404" "$DRIVE" query iam GetRole '{"RoleName":"nope"}'
	expect "$L ssm notfound" "error not_found ParameterNotFound 400" "$DRIVE" json ssm AmazonSSM.GetParameter '{"Name":"/no/such"}'
	expect "$L eks notfound" "error not_found ResourceNotFoundException 404" "$DRIVE" rest eks GET /clusters/nope
	expect "$L eks list" '"clusters":[' "$DRIVE" rest eks GET '/clusters?maxResults=10'
	expect "$L elbv2 describe" '"LoadBalancers"' "$DRIVE" query elasticloadbalancing DescribeLoadBalancers '{}'
	# retries: two injected throttles, then success within 3 attempts
	curl -s ${CA:+--cacert "$CA"} -X POST "$AWSSIM_URL/_awssim/faults" \
		-d '{"rules":[{"service":"ec2","operation":"DescribeVpcs","kind":"throttle","count":2}]}' >/dev/null
	expect "$L retry throttle" '"vpcSet"' "$DRIVE" query ec2 DescribeVpcs
	curl -s ${CA:+--cacert "$CA"} -X POST "$AWSSIM_URL/_awssim/faults" \
		-d '{"rules":[{"service":"ec2","operation":"DescribeVpcs","kind":"http500","count":5}]}' >/dev/null
	# a max attempts the user sets is the whole budget (one round, aws/retry.h)
	expect "$L retry exhausted" "error transient" env AWS_MAX_ATTEMPTS=5 "$DRIVE" query ec2 DescribeVpcs
	curl -s ${CA:+--cacert "$CA"} -X DELETE "$AWSSIM_URL/_awssim/faults" >/dev/null
	# bad secret -> SignatureDoesNotMatch, one clear line
	expect "$L bad secret" "error auth SignatureDoesNotMatch 403" env AWS_SECRET_ACCESS_KEY=wrong "$DRIVE" whoami

	# EKS token: the presigned URL verifies at the simulator with the header added
	tok=$("$DRIVE" token it-cluster 2>&1)
	url=$(printf '%s' "${tok#k8s-aws-v1.}" | tr -- '-_' '+/' | awk '{ n = length($0) % 4; if (n) $0 = $0 substr("===", 1, 4 - n); print }' | base64 -d 2>/dev/null)
	case "$url" in "$AWSSIM_URL/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm="*) ok ;; *) bad "$L token url: $url" ;; esac
	code=$(curl -s -o "$T/gci" -w '%{http_code}' ${CA:+--cacert "$CA"} -H 'x-k8s-aws-id: it-cluster' "$url")
	if [ "$code" = 200 ] && grep -q 123456789012 "$T/gci"; then ok; else bad "$L token verify: HTTP $code $(cat "$T/gci")"; fi
	code=$(curl -s -o /dev/null -w '%{http_code}' ${CA:+--cacert "$CA"} -H 'x-k8s-aws-id: other' "$url")
	[ "$code" = 403 ] && ok || bad "$L token bound to cluster name: HTTP $code"

	# credential sources
	unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
	cat >"$T/credentials" <<EOC
[base]
aws_access_key_id = AKIAIOSFODNN7EXAMPLE
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
EOC
	cat >"$T/config" <<EOC
[profile chain]
role_arn = arn:aws:iam::123456789012:role/it-role
source_profile = base
[profile proc]
credential_process = printf '{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}'
EOC
	export AWS_CONFIG_FILE="$T/config" AWS_SHARED_CREDENTIALS_FILE="$T/credentials"
	expect "$L profile keys" "user/" env AWS_PROFILE=base "$DRIVE" whoami
	expect "$L profile keys source" "profile base" env AWS_PROFILE=base "$DRIVE" whoami
	expect "$L assume-role chain" "assumed-role/it-role/" env AWS_PROFILE=chain "$DRIVE" whoami
	expect "$L credential_process" "credential-process (profile proc)" env AWS_PROFILE=proc "$DRIVE" whoami
	# web identity: the unsigned AssumeRoleWithWebIdentity at the simulator's STS
	# a CI-style OIDC token: {"alg":"RS256"}.{"iss":...,"sub":"repo:x","aud":"sts.amazonaws.com"}.sig
	b64u() { printf '%s' "$1" | base64 -w0 | tr '+/' '-_' | tr -d '='; }
	printf '%s.%s.c2ln' "$(b64u '{"alg":"RS256"}')" \
		"$(b64u '{"iss":"https://token.actions.example.com","sub":"repo:x","aud":"sts.amazonaws.com"}')" >"$T/wi-token"
	expect "$L web identity" "assumed-role/ci-role/" env AWS_PROFILE= AWS_CONFIG_FILE="$T/none" AWS_SHARED_CREDENTIALS_FILE="$T/none" \
		AWS_WEB_IDENTITY_TOKEN_FILE="$T/wi-token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/ci-role AWS_ROLE_SESSION_NAME=ci "$DRIVE" whoami
	expect "$L web identity source" "web-identity" env AWS_PROFILE= AWS_CONFIG_FILE="$T/none" AWS_SHARED_CREDENTIALS_FILE="$T/none" \
		AWS_WEB_IDENTITY_TOKEN_FILE="$T/wi-token" AWS_ROLE_ARN=arn:aws:iam::123456789012:role/ci-role "$DRIVE" whoami
	expect "$L no credentials" "error auth - 0: sts GetCallerIdentity: no AWS credentials found" env AWS_PROFILE= AWS_CONFIG_FILE="$T/none" AWS_SHARED_CREDENTIALS_FILE="$T/none" "$DRIVE" whoami
}

# Every eventual-consistency window off: this suite runs in real time.
S=$T/sim-http
if sim_awssim "$S" --consistency-delay-scale 0; then
	CA=
	run_suite http
	sim_stop_all
else
	bad "awssim (http) did not start"
fi

S=$T/sim-https
if sim_awssim "$S" --tls --consistency-delay-scale 0; then
	CA=$S/tls/ca.pem
	case "$AWSSIM_URL" in https://*) ok ;; *) bad "https simulator URL is $AWSSIM_URL" ;; esac
	run_suite https
	# without the test CA the TLS handshake must fail (verification is always on)
	clean_env
	export AWS_ENDPOINT_URL="$AWSSIM_URL" AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=x AWS_MAX_ATTEMPTS=1
	expect "https untrusted CA" "not trusted" "$DRIVE" whoami
else
	bad "awssim (https) did not start"
fi
