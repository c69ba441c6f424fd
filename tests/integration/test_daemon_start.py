#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""floodgated's start-up: errors reach the caller, sockets do not
collide, floodgatectl finds its socket (doc/admin.md, doc/configuration.md).

- -V/--version prints the version, -h the usage, both exit 0;
- started without -d, a store it cannot open, an HTTP port in use or a
  socket directory that does not exist exit 1 in the parent with the
  reason on stderr (before: exit 0, the reason only in syslog);
- a good start detaches, exits 0 and writes [daemon] pidfile;
- a second instance whose control socket is live refuses to start
  ("in use by another floodgated") and the first one's socket keeps
  working; a stale socket left by kill -9 is replaced; SIGHUP re-creates
  a socket file that was deleted;
- -n says when the socket directory does not exist, warns about
  secret = changeme and a world-readable file;
- floodgatectl -c FILE works with a typo elsewhere in FILE, says -s PATH
  when FILE cannot be read (exit 3), and exits 3 on permission denied;
- -u nobody (as root): the daemon runs as nobody, the store is nobody's,
  root still uses the socket;
- built with libsystemd, it tells $NOTIFY_SOCKET READY=1, RELOADING=1 and
  READY=1 on SIGHUP, STOPPING=1 on SIGTERM.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.ports import LOOPBACK  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402


def ctl_binary():
    return os.path.join(top_builddir(), "floodgatectl")


def run(args, timeout=20, **kw):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)
    print("$ %s -> %d\n%s" % (" ".join(os.path.basename(a) if i == 0 else a
                                         for i, a in enumerate(args)),
                               p.returncode, p.stderr.strip()))
    return p


def fgd(*args, **kw):
    return run([daemon.binary()] + list(args), **kw)


def ctl(*args, **kw):
    return run([ctl_binary()] + list(args), **kw)


def read_pid(path, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with open(path) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            time.sleep(0.05)
    return None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def wait_gone(pid, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end and alive(pid):
        time.sleep(0.05)
    return not alive(pid)


def built_with_systemd():
    try:
        with open(os.path.join(top_builddir(), "autoconf.h")) as f:
            return "#define HAVE_LIBSYSTEMD 1" in f.read()
    except OSError:
        return False


def notify_states(wd, config):
    """Run floodgated -d with NOTIFY_SOCKET; SIGHUP, then SIGTERM."""
    path = os.path.join(wd, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(path)
    ns.settimeout(10)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    got = []
    p = subprocess.Popen([daemon.binary(), "-d", "-c", config], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def recv():
            try:
                got.append(ns.recv(4096).decode().strip())
            except socket.timeout:
                got.append(None)
        recv()
        p.send_signal(signal.SIGHUP)
        recv()
        recv()
        p.send_signal(signal.SIGTERM)
        recv()
        p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        ns.close()
    return got


def main():
    if not daemon.available() or not os.access(ctl_binary(), os.X_OK):
        skip("floodgated or floodgatectl not built in %s" % top_builddir())
    with Workdir("start") as wd:
        # the link is not needed here: the server is only configured
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        sock = os.path.join(wd, "fg", "ctl.sock")
        pidfile = os.path.join(wd, "fg", "floodgated.pid")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               sections={"control": {"socket": sock}})
        os.chmod(fg.config, 0o640)
        pids = []
        try:
            p = fgd("-V")
            check(p.returncode == 0 and p.stdout.startswith("floodgated "),
                  "-V prints the version (%r)" % p.stdout.strip())
            p = fgd("--version")
            check(p.returncode == 0 and p.stdout == fgd("-V").stdout,
                  "--version as -V")
            p = fgd("-h")
            check(p.returncode == 0 and "usage" in p.stdout, "-h prints the usage, exit 0")

            # -- start-up errors exit 1 in the parent --------------------------
            good = open(fg.config).read()

            def variant(name, old, new):
                path = os.path.join(wd, name)
                with open(path, "w") as f:
                    f.write(good.replace(old, new))
                os.chmod(path, 0o640)
                return path

            nostore = variant("nostore.ini", fg.db, os.path.join(wd, "no", "such", "x.db"))
            p = fgd("-c", nostore)
            check(p.returncode == 1, "a store that cannot be opened: exit 1 (%d)" % p.returncode)
            check("not started" in p.stderr, "the parent's stderr says why")

            busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            busy.bind((LOOPBACK, fg.http_port))
            busy.listen(1)
            p = fgd("-c", fg.config)
            busy.close()
            check(p.returncode == 1, "an HTTP port in use: exit 1 (%d)" % p.returncode)
            check("cannot listen" in p.stderr, "the parent's stderr names the HTTP listener")

            nodir = variant("nodir.ini", sock, os.path.join(wd, "nodir", "ctl.sock"))
            withpid = variant("withpid.ini", "[store]",
                              "[daemon]\npidfile = %s\n[store]" % pidfile)
            p = fgd("-n", "-c", nodir)
            check(p.returncode == 1 and "does not exist" in p.stderr,
                  "-n: a socket directory that does not exist is an error")
            p = fgd("-c", nodir)
            check(p.returncode == 1, "... and a start with it exits 1 (%d)" % p.returncode)

            # -- a good start, detached ----------------------------------------
            p = fgd("-n", "-c", fg.config)
            check(p.returncode == 0 and "world" not in p.stderr,
                  "-n on a good file (mode 0640) exits 0 without warnings")
            p = fgd("-c", withpid)
            check(p.returncode == 0, "a good start without -d exits 0 (%d)" % p.returncode)
            first = read_pid(pidfile)
            check(first is not None and alive(first), "the pidfile names the running daemon")
            if first is None:  # keep going to see what else fails
                first = int(subprocess.run(["fuser", sock], capture_output=True,
                                           text=True).stdout.split()[0])
            pids.append(first)
            check(ctl("stats", "-c", fg.config).returncode == 0,
                  "floodgatectl talks to it")

            # -- a second instance on the same socket -------------------------
            other = daemon.Floodgated(os.path.join(wd, "fg2"), srv, name="second",
                                      sections={"control": {"socket": sock}})
            p = fgd("-n", "-c", other.config)
            check(p.returncode == 1 and "in use by another floodgated" in p.stderr,
                  "-n: the live socket of another daemon is an error")
            p = fgd("-d", "-c", other.config, timeout=20)
            check(p.returncode == 1 and "in use by another floodgated" in p.stderr,
                  "a second instance on a live socket refuses to start (%d)" % p.returncode)
            check(os.path.exists(sock) and ctl("stats", "-s", sock).returncode == 0,
                  "the first daemon's socket is still there and answers")

            # -- floodgatectl's own lookup ------------------------------------
            typo = variant("typo.ini", "[store]", "[limits]\naccount.subscribe = lots\n[store]")
            check(fgd("-n", "-c", typo).returncode == 1, "the daemon refuses the typo")
            r = ctl("stats", "-c", typo)
            check(r.returncode == 0, "floodgatectl -c FILE with a typo elsewhere: exit 0 (%d)"
                  % r.returncode)
            r = ctl("stats", "-c", os.path.join(wd, "missing.ini"))
            check(r.returncode == 3 and "-s PATH" in r.stderr,
                  "an unreadable -c FILE: exit 3, mentions -s PATH (%d)" % r.returncode)
            r = ctl("stats", "-s", os.path.join(wd, "nosuch.sock"))
            check(r.returncode == 3, "no daemon at the socket: exit 3 (%d)" % r.returncode)
            if os.geteuid() == 0 and shutil.which("setpriv"):
                os.chmod(wd, 0o755)
                r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                         ctl_binary(), "stats", "-s", sock])
                check(r.returncode == 3 and "ermission denied" in r.stderr,
                      "permission denied on the socket: exit 3 (%d)" % r.returncode)

            # -- kill -9 leaves a stale socket; the next start replaces it ----
            os.kill(first, signal.SIGKILL)
            check(wait_gone(first), "first daemon killed")
            pids.remove(first)
            check(os.path.exists(sock), "kill -9 left the socket file behind")
            p = fgd("-c", withpid)
            check(p.returncode == 0, "a start over a stale socket works (%d)" % p.returncode)
            again = read_pid(pidfile)
            check(again is not None, "with a new pidfile")
            pids.append(again)
            check(ctl("stats", "-s", sock).returncode == 0, "and answers on it")
            # a socket file deleted under the daemon comes back on SIGHUP
            os.unlink(sock)
            os.kill(again, signal.SIGHUP)
            end = time.monotonic() + 10
            while not os.path.exists(sock) and time.monotonic() < end:
                time.sleep(0.1)
            check(ctl("stats", "-s", sock).returncode == 0,
                  "SIGHUP re-creates a deleted control socket")
            os.kill(again, signal.SIGTERM)
            check(wait_gone(again), "SIGTERM stops the detached daemon")
            pids.remove(again)
            check(not os.path.exists(pidfile), "and it removes its pidfile")

            if built_with_systemd():
                got = notify_states(wd, fg.config)
                check(got == ["READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
                      "sd_notify: %s" % got)

            # -- -u USER: sockets as root, the store as the user --------------
            if os.geteuid() == 0:
                os.chmod(wd, 0o755)
                os.chmod(os.path.dirname(fg.db), 0o777)
                for f in (fg.db, fg.db + "-wal", fg.db + "-shm", fg.db + ".lock"):
                    if os.path.exists(f):
                        os.unlink(f)
                p = fgd("-u", "nobody", "-c", withpid)
                check(p.returncode == 0, "a start with -u nobody exits 0 (%d)" % p.returncode)
                pid = read_pid(pidfile)
                check(pid is not None, "with a pidfile")
                pids.append(pid)
                uid = [ln.split()[1] for ln in open("/proc/%d/status" % pid)
                       if ln.startswith("Uid:")][0]
                check(uid == "65534", "it runs as nobody (uid %s)" % uid)
                check(os.stat(fg.db).st_uid == 65534, "the store belongs to nobody")
                check(ctl("stats", "-s", sock).returncode == 0, "root can use the socket")
                os.kill(pid, signal.SIGTERM)
                check(wait_gone(pid), "SIGTERM stops it")
                pids.remove(pid)
                check(not os.path.exists(sock), "it removed its socket at exit")

            # -- -n warnings --------------------------------------------------
            weak = variant("weak.ini", "secret = %s" % srv.secret, "secret = changeme")
            os.chmod(weak, 0o644)
            p = fgd("-n", "-c", weak)
            check(p.returncode == 0 and "changeme" in p.stderr
                  and "readable by everyone" in p.stderr,
                  "-n warns about secret = changeme and a world-readable file")
        finally:
            for pid in pids:
                if alive(pid):
                    os.kill(pid, signal.SIGKILL)
    print("PASS test_daemon_start")


if __name__ == "__main__":
    main()
