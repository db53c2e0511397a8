#!/usr/bin/python3
"""Loopback-only static file server for tests/bake (a gVisor release mirror).

Usage: mirror.py DIR
Binds 127.0.0.1 on a kernel-chosen port (port 0, so no race with other
tests), prints the port on stdout and closes stdout, so the caller can block
on reading it (no sleep/poll), then serves DIR until killed. Request lines
go to stderr (the suite counts them to prove a re-run downloads nothing).
"""
import functools
import http.server
import os
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("mirror: " + (fmt % args) + "\n")
        sys.stderr.flush()


def main():
    if len(sys.argv) != 2:
        sys.stderr.write("usage: mirror.py DIR\n")
        return 2
    handler = functools.partial(Handler, directory=sys.argv[1])
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    host, port = srv.server_address[:2]
    assert host.startswith("127."), host  # loopback only
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    # Release the caller's pipe: point fd 1 at /dev/null.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
