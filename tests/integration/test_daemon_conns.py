#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Idle and slow clients on the HTTP listener and the control socket
cannot pin the daemon's file descriptors or keep others out (doc/limits.md,
"HTTP and control-socket connections"), against a real Prosody.

- 2,000 idle connections on [http] listen while the component link is
  down: the daemon keeps a bounded number of fds, /healthz still answers,
  and the link comes back (before, its next socket went above FD_SETSIZE
  and it could not reconnect);
- 16 slow writers on the control socket (one byte now and then, never a
  whole line): floodgatectl still answers, exit 0 (before: exit 3);
- a request line dribbled in slower than the deadline is cut off;
- HTTP: headers over 8 KiB get 431, other methods than GET/HEAD 405.
"""
import os
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.ports import LOOPBACK  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

IDLE = 2000
SLOW = 16
FD_BOUND = 200  # fds the daemon may hold: listeners, link, store, caps


def ctl_binary():
    return os.path.join(top_builddir(), "floodgatectl")


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def ctl(sock, *args):
    r = subprocess.run([ctl_binary(), args[0], "-s", sock] + list(args[1:]),
                       capture_output=True, text=True, timeout=40)
    print("$ floodgatectl %s -> %d %s" % (" ".join(args), r.returncode,
                                          r.stderr.strip()))
    return r


def main():
    if not daemon.available() or not os.access(ctl_binary(), os.X_OK):
        skip("floodgated or floodgatectl not built in %s" % top_builddir())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < IDLE + 200:
        skip("need %d fds, the hard limit is %d" % (IDLE + 200, hard))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, IDLE + 200), hard))
    with Workdir("conns") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        sock = os.path.join(wd, "fg", "ctl.sock")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv, verbose=False,
                               sections={"control": {"socket": sock}})
        idle, slow = [], []
        try:
            srv.start()
            fg.start()
            base = nfds(fg.pid)

            # -- HTTP: 2,000 idle connections while the link is down --------
            # (the link's next socket then gets a high fd number)
            srv.stop()
            end = time.monotonic() + 10
            while fg.healthz()[0] == 200 and time.monotonic() < end:
                time.sleep(0.1)
            check(fg.healthz()[0] == 503, "/healthz says 503 with the link down")
            for _ in range(IDLE):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                try:
                    s.connect((LOOPBACK, fg.http_port))
                except BlockingIOError:
                    pass
                idle.append(s)
            time.sleep(1.0)
            held = nfds(fg.pid)
            check(held < base + FD_BOUND,
                  "%d idle HTTP clients: the daemon holds %d fds (%d at start)"
                  % (IDLE, held, base))
            # idle SYNs may still be retrying: a patient client gets through
            code = fg.http_get("/healthz", timeout=10)[0]
            check(code == 503, "/healthz answers behind %d idle clients (%s)"
                  % (IDLE, code))
            srv.start()
            check(fg.wait_healthy(20),
                  "the component link reconnects with %d idle HTTP clients" % IDLE)
            check(fg.running(), "floodgated still running")
            for s in idle:
                s.close()
            idle = []

            # -- HTTP: request bounds --------------------------------------
            def raw(req):
                c = socket.create_connection((LOOPBACK, fg.http_port), timeout=10)
                try:
                    c.sendall(req)
                    return c.recv(200).split(b"\r\n")[0].decode()
                finally:
                    c.close()
            st = raw(b"GET /healthz HTTP/1.1\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n")
            check(" 431 " in st, "9,000 bytes of headers: %s" % st)
            st = raw(b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
            check(" 405 " in st, "POST: %s" % st)
            st = raw(b"GET /healthz HTTP/1.0\r\n\r\n")
            check(" 200 " in st, "a plain GET still works: %s" % st)
            m = fg.metrics()
            check('floodgate_build_info{version="' in m
                  and 'floodgate_listed{verdict="block"} 0' in m,
                  "/metrics has build_info and the listed gauges")

            # -- control socket: 16 slow writers ----------------------------
            for _ in range(SLOW):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(sock)
                s.send(b"s")
                slow.append(s)
            time.sleep(0.5)
            for s in slow:
                try:
                    s.send(b"t")  # alive, never a whole line
                except OSError:
                    pass
            t0 = time.monotonic()
            r = ctl(sock, "stats")
            took = time.monotonic() - t0
            check(r.returncode == 0 and "gates" in r.stdout,
                  "floodgatectl stats with %d slow writers exits 0 (%d) in %.1fs"
                  % (SLOW, r.returncode, took))
            for s in slow:
                s.close()
            slow = []

            # a line dribbled in slower than the deadline is cut off
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock)
            closed_after = None
            t0 = time.monotonic()
            while time.monotonic() - t0 < 30:
                try:
                    s.send(b"x")
                except OSError:
                    closed_after = time.monotonic() - t0
                    break
                time.sleep(0.5)
            s.close()
            # accepted, then closed at the deadline (10 s) however busy
            check(closed_after is not None and 5 <= closed_after <= 20,
                  "a control client sending a byte every 0.5 s is closed at the "
                  "deadline (after %s s)" % (closed_after and round(closed_after, 1)))
            check(ctl(sock, "stats").returncode == 0, "floodgatectl works after it")
        except Exception:
            fg.dump_log()
            raise
        finally:
            for s in idle + slow:
                s.close()
            fg.stop()
            srv.stop()
    print("PASS test_daemon_conns")


if __name__ == "__main__":
    main()
