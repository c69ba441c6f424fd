#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The store and admin actions under hostile or careless input, with the
real floodgated, floodgatectl and Prosody.

- a reason that is not UTF-8 (byte 0xE9) is refused by the daemon with
  exit 2, and the component link stays up: the next block reaches
  Prosody; a row an older version wrote with such bytes is repaired when
  loaded, so the verdict resync at start does not break the link either;
- floodgatectl sweep --import refuses the store while floodgated holds it
  (naming the daemon's pid); stopped, the import works and its
  quarantine expires;
- the store's directory deleted under the running daemon: admin actions
  answer an error, /healthz says 503, floodgate_store_ok is 0, the loss
  is logged once; a restart where the database is gone but its lock file
  remains refuses to start with an empty store;
- a refused start (a file that is not a store) exits 1 without leaks.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402


def ctl_binary():
    return os.path.join(top_builddir(), "floodgatectl")


def fixture(name):
    top = os.environ.get("top_srcdir") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    return os.path.join(top, "tests", "fixtures", "logs", name)


def ctl(config, *args, expect=None):
    """args may be bytes, to pass what is not UTF-8."""
    argv = [ctl_binary().encode(), os.fsencode(args[0]), b"-c",
            os.fsencode(config)] + [a if isinstance(a, bytes) else a.encode()
                                    for a in args[1:]]
    r = subprocess.run(argv, capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    err = r.stderr.decode("utf-8", "replace")
    print("$ floodgatectl %s -> %d\n%s%s" % (
        " ".join(a.decode("utf-8", "replace") for a in argv[1:]),
        r.returncode, out, ("stderr: " + err) if err else ""))
    if expect is not None:
        check(r.returncode == expect, "floodgatectl %s exits %d (got %d)"
              % (args[0], expect, r.returncode))
    return r.returncode, out, err


def sweep(*args):
    argv = [ctl_binary(), "sweep"] + list(args)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    print("$ floodgatectl sweep %s -> %d\n%s%s" % (
        " ".join(args), r.returncode, r.stdout,
        ("stderr: " + r.stderr) if r.stderr else ""))
    return r


def reaches_prosody(srv, jid, verdict, timeout=5.0):
    rx = re.compile(r"Verdict account %s: %s" % (re.escape(jid), verdict))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if rx.search(srv.log_text()):
            return True
        time.sleep(0.1)
    return False


def bad_utf8(srv, fg):
    d = srv.domain
    rc, out, err = ctl(fg.config, "block", ("alice@" + d).encode(),
                       b"spam \xe9t\xe9", expect=2)
    check("UTF-8" in err + out, "the refusal names UTF-8")
    rc, out, err = ctl(fg.config, "quarantine", ("alice@" + d).encode(),
                       b"bell \x07", expect=2)
    check(fg.healthz()[0] == 200, "link up after the refused reasons")
    ctl(fg.config, "block", "bob@" + d, "spam", expect=0)
    check(reaches_prosody(srv, "bob@" + d, "block"),
          "the next block reaches Prosody: the link stayed up")
    check(not reaches_prosody(srv, "alice@" + d, "block", 0.5),
          "the refused block was not pushed")


def old_rows(srv, fg):
    """A store row with a Latin-1 reason, as an older version wrote it."""
    d = srv.domain
    fg.stop()
    db = sqlite3.connect(fg.db)
    db.execute("INSERT INTO subjects (type, key, override, actor, reason,"
               " updated) VALUES ('account', ?, 'block', 'admin',"
               " CAST(X'7370616d20e9' AS TEXT), 1)", ("carol@" + d,))
    db.commit()
    db.close()
    fg.start()
    check(reaches_prosody(srv, "carol@" + d, "block", 10),
          "the repaired old row is pushed to Prosody")
    check("not valid UTF-8" in fg.log_text(since_start=True),
          "the repair is logged")
    time.sleep(1)
    check(fg.healthz()[0] == 200, "link up after the resync")
    ctl(fg.config, "block", "dave@" + d, "spam", expect=0)
    check(reaches_prosody(srv, "dave@" + d, "block"),
          "a later block reaches Prosody")


def two_writers(srv, fg):
    # the fixture's bot is one of the original rule's (case-changed
    # login, short sessions): what is tested here is the store's lock
    logf = fixture("ejabberd-23.01.lines")
    r = sweep("--rule", "case-login", "--import", fg.db, logf)
    check(r.returncode == 1, "import refused while floodgated runs")
    check("floodgated (pid %d)" % fg.pid in r.stderr,
          "the refusal names the daemon and its pid")
    fg.stop()
    r = sweep("--rule", "case-login", "--import", fg.db, logf)
    m = re.search(r"(\d+) accounts quarantined", r.stdout)
    check(r.returncode == 0 and m and int(m.group(1)) >= 1,
          "import works once the daemon is stopped")
    fg.start()
    rc, out, err = ctl(fg.config, "inspect", "--json",
                       "account:abupe@example.org", expect=0)
    j = json.loads(out)
    now = time.time() * 1000
    check(j["effective"] == "quarantine" and j["override"] == "quarantine",
          "the imported quarantine is enforced")
    check(now < j["expires"] <= now + 7 * 86400 * 1000 + 60000,
          "the imported quarantine expires (%s)" % j["expires"])


def store_deleted(srv, fg, storedir):
    d = srv.domain
    ctl(fg.config, "block", "erin@" + d, "spam", expect=0)
    shutil.rmtree(storedir)
    rc, out, err = ctl(fg.config, "block", "frank@" + d, "spam", expect=1)
    check("store" in out + err, "the refusal says the store failed")
    end = time.monotonic() + 5
    while fg.healthz()[0] != 503 and time.monotonic() < end:
        time.sleep(0.1)
    check(fg.healthz()[0] == 503, "/healthz reports the lost store")
    check(fg.metric("floodgate_store_ok") == 0, "floodgate_store_ok is 0")
    time.sleep(2.5)  # a few flush ticks
    log = fg.log_text(since_start=True)
    check(log.count("deleted while in use") == 1,
          "the loss is logged once (%d)" % log.count("deleted while in use"))
    check(log.count("flush failed") <= 1, "no flush failure on every tick")
    fg.stop()


def no_silent_recreate(fg):
    os.unlink(fg.db)
    for side in ("-wal", "-shm"):
        if os.path.exists(fg.db + side):
            os.unlink(fg.db + side)
    fg.start(wait_link=False)
    end = time.monotonic() + 10
    while fg.running() and time.monotonic() < end:
        time.sleep(0.1)
    rc = fg.returncode
    check(rc == 1, "floodgated refuses to start with an empty store (%s)" % rc)
    check("refusing to start with an empty" in fg.log_text(since_start=True),
          "and says why")
    check(not os.path.exists(fg.db), "no empty store was created")
    fg.stop()


def refused_cleanly(fg, junk):
    """A store file that is not ours: refused, exit 1, no leak report
    from the sanitizers."""
    with open(fg.db, "wb") as f:
        f.write(junk)
    fg.start(wait_link=False)
    end = time.monotonic() + 10
    while fg.running() and time.monotonic() < end:
        time.sleep(0.1)
    rc = fg.returncode
    log = fg.log_text(since_start=True)
    fg.stop()
    check(rc == 1, "a foreign store file is refused with exit 1 (%s)" % rc)
    check("not a usable database" in log, "and the log says why")
    check("LeakSanitizer" not in log and "AddressSanitizer" not in log,
          "a refused start leaks nothing")
    with open(fg.db, "rb") as f:
        check(f.read() == junk, "the refused file is left untouched")
    os.unlink(fg.db)


def main():
    if not daemon.available() or not os.access(ctl_binary(), os.X_OK):
        skip("floodgated or floodgatectl not built in %s" % top_builddir())
    with Workdir("store_guard") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        storedir = os.path.join(wd, "store")
        os.makedirs(storedir)
        sock = os.path.join(wd, "fg", "ctl.sock")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               sections={"control": {"socket": sock},
                                         "store": {"path": os.path.join(
                                             storedir, "fg.db")}})
        fg.db = os.path.join(storedir, "fg.db")
        try:
            srv.start()
            fg.start()
            bad_utf8(srv, fg)
            old_rows(srv, fg)
            two_writers(srv, fg)
            fg.stop()
            no_silent_recreate(fg)
            refused_cleanly(fg, b"this is not a database\n" * 100)
            os.unlink(fg.db + ".lock")
            fg.start()
            store_deleted(srv, fg, storedir)
        except BaseException:
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
