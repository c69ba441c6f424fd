#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""floodgated's command line and life cycle against a real
Prosody.

- `-n` exits 0 on a good file and 1 on a bad one, naming file:line;
- `-n` refuses /dev/zero and a FIFO at once, and 100,000 unknown empty
  sections with a bounded number of error lines;
  no -c or a stray argument is a usage error (2);
- SIGHUP with changed limits reloads without dropping the link (no
  reconnect, /healthz stays 200, the new limit applies);
- SIGHUP with a broken file keeps the running configuration;
- SIGHUP with a new secret reconnects with it;
- SIGTERM exits 0 and leaves the store consistent.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402


def run_n(path):
    p = subprocess.run([daemon.binary(), "-n", "-c", path], capture_output=True,
                       text=True, timeout=20)
    return p.returncode, p.stderr


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("cli") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               limits={"account.subscribe": "10/min burst 10"})
        try:
            rc, err = run_n(fg.config)
            check(rc == 0, "-n on a good file exits 0 (got %d)" % rc)
            bad = os.path.join(wd, "bad.ini")
            with open(fg.config) as f, open(bad, "w") as g:
                g.write(f.read() + "\n[limits]\naccount.subscribe = lots\n")
            rc, err = run_n(bad)
            check(rc == 1, "-n on a bad file exits 1 (got %d)" % rc)
            line = sum(1 for _ in open(bad))
            check(("%s:%d:" % (bad, line)) in err,
                  "the error names file:line: %r" % err.strip().splitlines()[0])
            for special in ("/dev/zero", os.path.join(wd, "fifo.ini")):
                if special != "/dev/zero":
                    os.mkfifo(special)
                rc, err = run_n(special)
                check(rc == 1 and "not a regular file" in err,
                      "-n -c %s exits 1 at once (%d)" % (special, rc))
            many = os.path.join(wd, "many.ini")
            with open(fg.config) as f, open(many, "w") as g:
                g.write(f.read() + "".join("[s%d]\n" % i for i in range(100000)))
            rc, err = run_n(many)
            check(rc == 1 and "unknown section [s0]" in err,
                  "100,000 unknown empty sections: exit 1 (%d)" % rc)
            check(len(err.splitlines()) < 30,
                  "with %d lines of errors" % len(err.splitlines()))
            p = subprocess.run([daemon.binary()], capture_output=True, timeout=10)
            check(p.returncode == 2, "no -c is a usage error, exit 2 (got %d)" % p.returncode)
            p = subprocess.run([daemon.binary(), "-c", fg.config, "extra"],
                               capture_output=True, timeout=10)
            check(p.returncode == 2, "a stray argument is a usage error (got %d)" % p.returncode)

            srv.start()
            fg.start()
            connects = fg.metric("floodgate_link_connects_total")
            check(connects == 1, "one handshake after start (%d)" % connects)

            # reload with new limits: the link stays up
            fg.limits["account.subscribe"] = "20/min burst 20"
            fg.write_config()
            os.kill(fg.pid, signal.SIGHUP)
            check(fg.wait_log(r"reload done", timeout=5) is not None, "SIGHUP reloads")
            time.sleep(0.5)
            check(fg.healthz()[0] == 200, "/healthz still 200 after the reload")
            check(fg.metric("floodgate_link_connects_total") == connects,
                  "the link was not dropped by a reload of limits")

            # a broken file keeps the running configuration
            with open(fg.config, "a") as f:
                f.write("\n[nonsense]\nx = 1\n")
            os.kill(fg.pid, signal.SIGHUP)
            check(fg.wait_log(r"reload failed: keeping the running configuration",
                              timeout=5) is not None,
                  "a broken file on SIGHUP keeps the running configuration")
            check(fg.running() and fg.healthz()[0] == 200, "still running and linked")

            # a new secret: reconnect with it (Prosody gets the same one)
            srv.secret = "rotated-secret"
            srv.write_config()
            srv.stop()
            srv.start()
            fg.secret = "rotated-secret"
            fg.write_config()
            os.kill(fg.pid, signal.SIGHUP)
            check(fg.wait_healthy(10), "link up again with the rotated secret")
            check("rotated-secret" not in fg.log_text(), "the new secret is not logged")

            rc = fg.stop()
            check(rc == 0, "SIGTERM exits 0 (got %s)" % rc)
            con = sqlite3.connect(fg.db)
            ok = con.execute("PRAGMA integrity_check").fetchone()[0]
            con.close()
            check(ok == "ok", "store integrity_check after shutdown: %s" % ok)
        except Exception:
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS test_daemon_cli")


if __name__ == "__main__":
    main()
