# tests/sim.sh - starting the local AWS (tests/awssim) for a script (sourced;
# tests/lib.sh sources it for every suite, tools and benchmarks source it
# directly).  One place for the start-up every user repeated: private files,
# a port the kernel picks, loopback only, stopped when the script ends.
#
#   . "$SECFAAS_SRC/tests/sim.sh"          (SIM_SRC: the tree, default from SECFAAS_SRC)
#   sim_awssim DIR [--tls] [--timescale X] [--credentials F] [--consistency-delay-scale S]
#       starts awssim with its files in DIR (tests/awssim/ctl start), sets
#       AWSSIM_URL, AWSSIM_PID (and AWS_CA_BUNDLE with --tls), refuses an
#       endpoint that is not on 127.0.0.0/8, and remembers DIR for
#       sim_stop_all.  Prints why and returns 1 when it could not start.
#       AWS's eventual-consistency windows are scaled by SIM_CONSISTENCY
#       (tests/awssim/README.md, "Eventual consistency") unless the caller
#       passes --consistency-delay-scale itself.
#   sim_aws_env
#       exports what a secfaas run against that simulator needs: the
#       endpoint (and its test CA), the documented example access key, the
#       region eu-west-1, and no profile or session token from the caller.
#   sim_stop_all
#       stops every simulator started here (call it from the EXIT trap).
SIM_SRC=${SIM_SRC:-${SECFAAS_SRC:-$(pwd)}}
SIM_DIRS=""
# Every window AWS documents, as long as AWS has it: secfaas retries the
# refusals AWS sends while a change propagates.
SIM_CONSISTENCY=${SIM_CONSISTENCY:-1}

sim_awssim() {
	sim_dir=$1
	shift
	case " $* " in
	*" --consistency-delay-scale "*) ;;
	*) set -- "$@" --consistency-delay-scale "$SIM_CONSISTENCY" ;;
	esac
	sim_env=$(sh "$SIM_SRC/tests/awssim/ctl" start "$sim_dir" "$@") || {
		echo "cannot start awssim (see $sim_dir/awssim.log)"
		return 1
	}
	eval "$sim_env"
	SIM_DIRS="$SIM_DIRS $sim_dir"
	case "$AWSSIM_URL" in
	http://127.*:* | https://127.*:*) ;;
	*)
		echo "refusing non-loopback simulator endpoint $AWSSIM_URL"
		sim_stop_all
		return 1
		;;
	esac
	return 0
}

sim_aws_env() {
	export AWS_ENDPOINT_URL="$AWSSIM_URL" AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
	export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY AWS_REGION=eu-west-1
	[ -z "${AWS_CA_BUNDLE:-}" ] || export AWS_CA_BUNDLE
	# the local AWS has one host: no FIPS or dual-stack variant of it
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_USE_FIPS_ENDPOINT AWS_USE_DUALSTACK_ENDPOINT
}

sim_stop_all() {
	for sim_d in $SIM_DIRS; do
		sh "$SIM_SRC/tests/awssim/ctl" stop "$sim_d" >/dev/null 2>&1 || true
	done
	SIM_DIRS=""
}
