#!/bin/sh
# The README's "Try it yourself" session, run as written: tools/sim (what
# `make sim` runs) in the background, then the README's commands between
# the try-it markers, in one shell, from a directory laid out like a clone
# (build/ and examples/).  Then Ctrl-C's signal stops the simulators.
# Synchronisation: tools/sim's output is read through a FIFO up to its last
# line; no sleeps.
. "$SECFAAS_SRC/tests/lib.sh"
t_private_net "$0"
export NO_COLOR=1

t_begin "README: try it yourself, with tools/sim"
mkdir clone
ln -s "$(dirname "$SECFAAS")" clone/build
cp -R "$SECFAAS_SRC/examples" clone/
sed -n '/<!-- try-it: begin -->/,/<!-- try-it: end -->/p' "$SECFAAS_SRC/README.md" | sed -n 's/^\$ //p' >session.sh
t_ok "the session has commands" test "$(wc -l <session.sh)" -ge 5
t_ok "it uses the simulator's settings" grep -qF ". .secfaas/sim/env" session.sh
mkfifo sim.fifo
(cd clone && exec sh "$SECFAAS_SRC/tools/sim" >../sim.fifo 2>../sim.err) &
simpid=$!
exec 3<sim.fifo
: >sim.out
while IFS= read -r line <&3; do
	printf '%s\n' "$line" >>sim.out
	case $line in "# Ctrl-C stops the simulators.") break ;; esac
done
t_grep "export lines" "export AWS_ENDPOINT_URL=https://127.0.0.1:" sim.out
t_grep "poll scale" "export SECFAAS_POLL_SCALE=0.001" sim.out
t_grep "CA bundle" "export AWS_CA_BUNDLE=" sim.out
t_ok "the env file" test -s clone/.secfaas/sim/env
awspid=$(cat clone/.secfaas/sim/awssim/pid 2>/dev/null)
(cd clone && sh -e -x ../session.sh) >session.out 2>session.err
rc=$?
t_eq "the session runs to the end" "$rc" 0
[ "$rc" -eq 0 ] || tail -n 30 session.err | sed 's/^/    err| /'
t_grep "whoami" "Account" session.out
t_grep "plan" "Plan: " session.out
t_grep "apply" "Apply complete!" session.out
t_grep "outputs" "gateway_url" session.out
t_grep "verify" "verify: PASS" session.out
t_grep "destroy" "Destroy complete!" session.out
kill -TERM "$simpid"
wait "$simpid"
t_eq "tools/sim exits 0 on SIGTERM" "$?" 0
exec 3<&-
t_ok "the local AWS stopped" sh -c "! kill -0 $awspid 2>/dev/null"
t_end

finish
