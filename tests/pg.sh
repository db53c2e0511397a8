# tests/pg.sh - a private PostgreSQL server for tests, the way the sandbox
# suite starts its own containerd.  Sourced by tests/lib.sh (suites) and
# tests/run; also runnable: `sh tests/pg.sh start DIR [OWNER_PID]`,
# `sh tests/pg.sh stop DIR` (the unit tests start theirs like that).
#
#   pg_start DIR [OWNER]  initdb into a fresh directory, start the server on
#                         a unix socket only (no TCP port, so parallel runs
#                         never collide), wait until it accepts connections,
#                         export SECFAAS_TEST_PG (a postgresql:// URL) and
#                         SECFAAS_TEST_PG_DIR (DIR, for pg_restart), and
#                         write the URL to DIR/url.  A watchdog stops the server
#                         when OWNER (default: this shell) exits, however it
#                         exits, so a killed run leaves no server behind.
#   pg_stop DIR           stop that server by its PID and remove its files
#   pg_restart DIR        stop (fast: sessions are ended) and start again
#   pg_crash DIR          immediate stop (like a crash) and start again
#   pg_have               0 if the server binaries are installed
#
# The server runs as the postgres user when we are root (initdb and
# postgres refuse root).  Its files live under a short /tmp/sfpg.* path that
# user can reach: a unix socket path must fit in 107 bytes.  fsync is off:
# these are throw-away servers, and crash tests stop the process, not the
# machine.

pg_bindir() {
	for _b in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
		if [ -x "$_b/initdb" ] && [ -x "$_b/pg_ctl" ] && [ -x "$_b/postgres" ]; then
			echo "$_b"
			return 0
		fi
	done
	return 1
}

pg_have() {
	pg_bindir >/dev/null
}

# Run a server binary as the postgres user when we are root, from / (the
# caller's directory is usually one that user may not enter; every path
# given is absolute).
pg__as() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

pg__launch() { # ROOT BIN
	if ! pg__as "$2/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 120 -s \
		-o "-k $1/sock -c listen_addresses= -c fsync=off -c full_page_writes=off -c max_connections=200 -c shared_buffers=16MB" \
		start; then
		echo "pg_start: the server did not start:"
		tail -n 20 "$1/server.log" | sed 's/^/    server| /'
		return 1
	fi
	head -n 1 "$1/data/postmaster.pid" >"$1/pid"
}

pg_start() { # DIR [OWNER_PID]
	_pgd=$1
	_pgowner=${2:-$$}
	_pgbin=$(pg_bindir) || {
		echo "pg_start: PostgreSQL server binaries not found (apt-get install postgresql, or make deps)"
		return 1
	}
	mkdir -p "$_pgd" || return 1
	_pgroot=$(mktemp -d /tmp/sfpg.XXXXXX) || return 1
	echo "$_pgroot" >"$_pgd/root"
	mkdir "$_pgroot/data" "$_pgroot/sock"
	[ "$(id -u)" -ne 0 ] || chown -R postgres:postgres "$_pgroot"
	if ! pg__as "$_pgbin/initdb" -D "$_pgroot/data" -A trust -U postgres -N -E UTF8 --no-locale \
		>"$_pgroot/initdb.log" 2>&1; then
		echo "pg_start: initdb failed:"
		tail -n 20 "$_pgroot/initdb.log" | sed 's/^/    initdb| /'
		rm -rf "$_pgroot"
		return 1
	fi
	if ! pg__launch "$_pgroot" "$_pgbin"; then
		pg_stop "$_pgd"
		return 1
	fi
	SECFAAS_TEST_PG="postgresql:///postgres?host=$_pgroot/sock&user=postgres"
	SECFAAS_TEST_PG_DIR=$_pgd
	export SECFAAS_TEST_PG SECFAAS_TEST_PG_DIR
	echo "$SECFAAS_TEST_PG" >"$_pgd/url"
	# The watchdog polls every second: it only has to notice an owner
	# that died without running its cleanup (kill -9), then clean up.
	(
		while [ -d "$_pgroot/data" ] && kill -0 "$_pgowner" 2>/dev/null; do
			sleep 1
		done
		[ ! -d "$_pgroot/data" ] || pg_stop "$_pgd"
	) </dev/null >/dev/null 2>&1 &
	return 0
}

# Stop the postmaster whose PID we recorded, if it is still that server.
pg__kill() { # ROOT SIGNAL
	_pgpid=$(cat "$1/pid" 2>/dev/null)
	[ -n "$_pgpid" ] || return 0
	tr '\0' ' ' <"/proc/$_pgpid/cmdline" 2>/dev/null | grep -qF -- "$1/data" || return 0
	kill "-$2" "$_pgpid" 2>/dev/null
	_pgi=0
	while kill -0 "$_pgpid" 2>/dev/null && [ $_pgi -lt 600 ]; do
		sleep 0.1
		_pgi=$((_pgi + 1))
	done
	if kill -0 "$_pgpid" 2>/dev/null; then
		kill -QUIT "$_pgpid" 2>/dev/null
		sleep 1
	fi
}

pg_stop() { # DIR
	[ -f "$1/root" ] || return 0
	_pgroot=$(cat "$1/root")
	case "$_pgroot" in /tmp/sfpg.*) ;; *) return 1 ;; esac
	pg__kill "$_pgroot" INT # fast shutdown: sessions are ended, then it exits
	rm -rf "$_pgroot"
	rm -f "$1/root" "$1/url"
}

pg_restart() { # DIR
	_pgroot=$(cat "$1/root") || return 1
	pg__kill "$_pgroot" INT
	pg__launch "$_pgroot" "$(pg_bindir)"
}

pg_crash() { # DIR
	_pgroot=$(cat "$1/root") || return 1
	pg__kill "$_pgroot" QUIT # immediate shutdown: no checkpoint, like a crash
	pg__launch "$_pgroot" "$(pg_bindir)"
}

case "${0##*/}" in
pg.sh)
	set -u
	case "${1:-}" in
	start) pg_start "$2" "${3:-$PPID}" ;;
	stop) pg_stop "$2" ;;
	restart) pg_restart "$2" ;;
	crash) pg_crash "$2" ;;
	*)
		echo "usage: sh tests/pg.sh start|stop|restart|crash DIR [OWNER_PID]" >&2
		exit 2
		;;
	esac
	;;
esac
