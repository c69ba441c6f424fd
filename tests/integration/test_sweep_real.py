#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""floodgatectl sweep and report on the logs of a real ejabberd 23.01 and
a real Prosody 0.12 (no floodgated involved).

ejabberd: 6 bots log in as "Abupe" for "abupe" (RawSession: slixmpp
would lowercase the name) in 4 sessions of about 3 s, two at a time; 6
humans log in with lowercase names, 1 or 2 sessions (one of them types
a capitalised name once, like a phone keyboard); one human is online
across an "ejabberdctl stop" and a new start; one account registers in
band; wrong passwords and unknown names fail from 127.0.0.1. Then
`floodgatectl sweep --rule case-login` (report, --csv --all, --commands
ejabberd) and
`floodgatectl report` (text and --csv) on the real log must find every
bot and no human, print lowercased `ejabberdctl unregister USER HOST`,
and count the failures per user name and host. The log, split at the
restart into a gzipped rotated file and a plain one, read in order,
must give the same CSVs as the whole file.

Prosody (mod_log_auth with log_auth_ips = "all"): Prosody logs the
nodeprepped name, so the case-login rule finds nothing (as
doc/floodgatectl-sweep.md says); the default replays the log through the
daemon's detectors: each bot gets short-sessions and overlap (7, the
daemon would throttle it: one burst from one address is all a test node
shows, never a day of connections), so `--min-score 6` finds every bot
and no human; report counts the failures, including one
without a user name.

Exit 0 on pass, 1 on failure, 77 when floodgatectl (or a server) is
missing.
"""
import csv
import gzip
import io
import os
import socket
import subprocess
import sys
import threading
import time
import traceback

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import ejabberd as ejmod  # noqa: E402
from fgtest.client import RawSession  # noqa: E402
from fgtest.ejabberd import EjabberdServer  # noqa: E402
from fgtest.prosody import PROSODY, ProsodyServer  # noqa: E402

BOTS = ["abupe", "zaxirobo", "okemu", "tivaso", "ribexo", "yulapi"]
HUMANS = ["alice", "bob", "carol", "dave", "erin", "frank"]
PW = "pw-real-1"
BOT_HOLD = 3.0      # s a bot session stays up (well under 60 s)
HUMAN_HOLD = 2.0    # s: humans are safe by lowercase logins and few sessions
PROSODY_MODS = "/usr/lib/prosody/modules/mod_log_auth/mod_log_auth.lua"


def ctl(*args, stdin=None):
    exe = os.path.join(top_builddir(), "floodgatectl")
    r = subprocess.run([exe] + list(args), capture_output=True, text=True,
                       timeout=60, input=stdin)
    if r.stderr.strip():
        print("floodgatectl %s: stderr: %s" % (args[0], r.stderr.strip()))
    return r


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def capital(name):
    return name[0].upper() + name[1:]


def run_threads(fns):
    errs = []

    def wrap(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - reported below
            errs.append(e)
    ts = [threading.Thread(target=wrap, args=(f,)) for f in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    if errs:
        raise errs[0]


def login(srv, name, password=PW, resource="raw"):
    s = RawSession(srv)
    ok = s.login(name, password, resource=resource)
    if ok is not True:
        s.close()
        raise RuntimeError("login %s failed: %s" % (name, ok))
    return s


def bot_burst(srv, name, tag):
    """Two overlapping sessions of about BOT_HOLD s, capitalised login."""
    def go():
        a = login(srv, capital(name), resource="%s1" % tag)
        time.sleep(0.4)
        b = login(srv, capital(name), resource="%s2" % tag)
        time.sleep(BOT_HOLD)
        a.close()
        b.close()
    return go


def human_session(srv, name, hold=HUMAN_HOLD, typed=None):
    def go():
        s = login(srv, typed or name, resource="desk")
        time.sleep(hold)
        s.close()
    return go


def fail_login(srv, name, password):
    s = RawSession(srv)
    r = s.login(name, password)
    s.close()
    if r is True:
        raise RuntimeError("login %r with a wrong password succeeded" % name)


def register_in_band(srv, user, password):
    """XEP-0077 registration over a bare stream (mod_register logs it)."""
    sk = socket.create_connection((srv.host, srv.c2s_port), timeout=5)
    try:
        sk.sendall(("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
                    % srv.domain).encode())
        buf = b""
        while b"</stream:features>" not in buf:
            chunk = sk.recv(65536)
            if not chunk:
                break
            buf += chunk
        sk.sendall(("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>"
                    "<username>%s</username><password>%s</password></query></iq>"
                    % (user, password)).encode())
        buf = b""
        while b"</iq>" not in buf and b"/>" not in buf:
            chunk = sk.recv(65536)
            if not chunk:
                break
            buf += chunk
        if b"type='result'" not in buf and b'type="result"' not in buf:
            raise RuntimeError("in-band registration of %s failed: %r" % (user, buf))
        sk.sendall(b"</stream:stream>")
    finally:
        sk.close()


# -- ejabberd ------------------------------------------------------------------

def ejabberd_scenario(srv):
    """Returns the byte offset of the restart in the log and the expected
    failure counts per user name."""
    srv.register_many([(u, PW) for u in BOTS + HUMANS])
    # round 1: bots two at a time, humans with one session each (bob
    # types "Bob" once), alice stays online across the restart
    alice = login(srv, "alice", resource="laptop")
    run_threads([bot_burst(srv, b, "a") for b in BOTS]
                + [human_session(srv, "bob", typed="Bob"),
                   human_session(srv, "carol"), human_session(srv, "dave")])
    fails = {"erin@" + srv.domain: 2, "ghost@" + srv.domain: 3,
             "nobody@" + srv.domain: 1}
    fail_login(srv, "erin", "wrong")
    fail_login(srv, "Erin", "wrong")  # counted under the stored name
    for _ in range(3):
        fail_login(srv, "ghost", "guess")
    fail_login(srv, "nobody", "guess")
    fail_login(srv, "", "guess")      # no user name at all
    register_in_band(srv, "Newbie", PW)
    time.sleep(0.5)
    srv.stop()
    alice.sock.close()
    split = os.path.getsize(srv.logfile)
    # round 2 on a new node: the c2s pids start over
    srv.start()
    run_threads([bot_burst(srv, b, "b") for b in BOTS]
                + [human_session(srv, "alice"), human_session(srv, "erin"),
                   human_session(srv, "frank"), human_session(srv, "carol")])
    time.sleep(0.5)
    srv.stop()
    return split, fails


def check_ejabberd(srv, split, fails, wd):
    d = srv.domain
    log = srv.logfile
    text = open(log, errors="replace").read()
    sample = [l for l in text.splitlines()
              if "c2s" in l and ("Accepted c2s" in l or "Failed c2s" in l
                                 or "session for" in l)][:4]
    print("real ejabberd lines, e.g.:\n  " + "\n  ".join(sample))

    r = ctl("sweep", "--rule", "case-login", log)
    check(r.returncode == 0, "sweep exits 0 (%d)" % r.returncode)
    print(r.stdout)
    check(" 0 unparseable" in r.stdout.splitlines()[0],
          "every line of the real log parses: %s" % r.stdout.splitlines()[0])
    rows = [l.split()[0] for l in r.stdout.splitlines() if "@" + d in l.split(" ")[0]]
    check(sorted(rows) == sorted(b + "@" + d for b in BOTS),
          "the report lists exactly the %d bots (%s)" % (len(BOTS), ", ".join(rows)))

    r = ctl("sweep", "--rule", "case-login", "--csv", "--all", log)
    check(r.returncode == 0, "sweep --csv exits 0")
    acc = {row["account"]: row for row in csv_rows(r.stdout)}
    whole_csv = r.stdout
    for b in BOTS:
        a = acc.get(b + "@" + d)
        check(a is not None and a["suspect"] == "1" and a["sessions"] == "4"
              and a["short_sessions"] == "4" and a["case_logins"] == "4"
              and a["login_as"] == capital(b) and a["max_concurrent"] == "2"
              and a["ips"] == "127.0.0.1",
              "bot %s: suspect, 4 short sessions, 2 at once, logged in as %s from "
              "127.0.0.1 (%s)" % (b, capital(b), a and {k: a[k] for k in (
                  "suspect", "sessions", "short_sessions", "case_logins",
                  "login_as", "max_concurrent", "ips")}))
    for h in HUMANS:
        a = acc.get(h + "@" + d)
        check(a is not None and a["suspect"] == "0",
              "human %s is no suspect (score %s)" % (h, a and a["score"]))
    bob = acc["bob@" + d]
    check(bob["case_logins"] == "1" and bob["login_as"] == "Bob",
          "bob's one capitalised login is seen, and is not enough")
    alice = acc["alice@" + d]
    check(alice["sessions"] == "2" and alice["max_concurrent"] == "1",
          "alice online across the restart: 2 sessions, never 2 at once "
          "(max_concurrent %s)" % alice["max_concurrent"])
    erin = acc["erin@" + d]
    check(erin["auth_fail"] == "2", "erin's 2 wrong passwords are on her account "
          "(%s)" % erin["auth_fail"])
    nb = acc.get("newbie@" + d)
    check(nb is not None and nb["registered"] != "-" and nb["suspect"] == "0"
          and nb["ips"] == "127.0.0.1",
          "the in-band registration of Newbie is newbie@%s from 127.0.0.1" % d)
    check("ghost@" + d not in acc, "a failed login creates no account")

    r = ctl("sweep", "--rule", "case-login", "--commands", "ejabberd", log)
    cmds = sorted(l for l in r.stdout.splitlines() if l and not l.startswith("#"))
    want = sorted("ejabberdctl unregister %s %s" % (b, d) for b in BOTS)
    check(r.returncode == 0 and cmds == want,
          "--commands ejabberd: %d lowercased unregister commands, nothing else"
          % len(want))

    r = ctl("report", log)
    check(r.returncode == 0, "report exits 0")
    nfail = sum(fails.values()) + 1
    head = r.stdout.splitlines()[1]
    check(head.startswith("%d failed logins (1 without a user name) from 1 hosts"
                          % nfail), "report: %s" % head)
    r = ctl("report", "--csv", log)
    rep = {(row["kind"], row["key"]): row for row in csv_rows(r.stdout)}
    whole_rep = r.stdout
    check(rep.get(("host", "127.0.0.1"), {}).get("attempts") == str(nfail),
          "report --csv: 127.0.0.1 made %d attempts" % nfail)
    users = {k[1]: int(v["attempts"]) for k, v in rep.items() if k[0] == "user"}
    check(users == fails, "report --csv: failures per user name %s" % users)

    # rotation: the first node's log gzipped as .1.gz, the rest plain
    data = open(log, "rb").read()
    old, cur = os.path.join(wd, "ejabberd.log.1.gz"), os.path.join(wd, "ejabberd.log")
    with gzip.open(old, "wb") as f:
        f.write(data[:split])
    with open(cur, "wb") as f:
        f.write(data[split:])
    r = ctl("sweep", "--rule", "case-login", "--csv", "--all", old, cur)
    check(r.returncode == 0 and r.stdout == whole_csv,
          "sweep of ejabberd.log.1.gz + ejabberd.log gives the same CSV as the "
          "whole log")
    r = ctl("report", "--csv", old, cur)
    check(r.returncode == 0 and r.stdout == whole_rep,
          "report of the rotated pair gives the same CSV as the whole log")
    r = ctl("sweep", "--rule", "case-login", old, cur)
    check(r.stdout.splitlines()[0].startswith("floodgatectl sweep: 2 files"),
          "the report counts 2 files: %s" % r.stdout.splitlines()[0])


def test_ejabberd():
    with Workdir("sweep-ej") as wd:
        srv = EjabberdServer(os.path.join(wd, "ejabberd"), floodgate=False)
        try:
            srv.start()
            split, fails = ejabberd_scenario(srv)
        except BaseException:
            srv.dump_log()
            raise
        finally:
            srv.stop()
        check_ejabberd(srv, split, fails, wd)


# -- Prosody -------------------------------------------------------------------

def prosody_bot(srv, name):
    def go():
        ss = []
        for i in range(3):
            ss.append(login(srv, capital(name), resource="p%d" % i))
            time.sleep(0.3)
        time.sleep(BOT_HOLD)
        for s in ss:
            s.close()
    return go


def test_prosody():
    with Workdir("sweep-pr") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"), floodgate=False,
                            modules=["log_auth"], log_level="info",
                            global_options={"log_auth_ips": "all"})
        d = srv.domain
        fails = {"erin@" + d: 2, "ghost@" + d: 3}
        try:
            srv.start()
            srv.register_many([(u, PW) for u in BOTS + HUMANS])
            run_threads([prosody_bot(srv, b) for b in BOTS]
                        + [human_session(srv, h) for h in HUMANS])
            fail_login(srv, "erin", "wrong")
            fail_login(srv, "erin", "wrong")
            for _ in range(3):
                fail_login(srv, "ghost", "guess")
            fail_login(srv, "", "guess")
            time.sleep(0.5)
        except BaseException:
            srv.dump_log()
            raise
        finally:
            srv.stop()
        log = srv.logfile
        text = open(log, errors="replace").read()
        sample = [l for l in text.splitlines()
                  if "uthenticat" in l and "c2s" in l][:4]
        print("real Prosody lines, e.g.:\n  " + "\n  ".join(sample))
        check("Authenticated as %s@%s" % (BOTS[0], d) in text,
              "Prosody logs the bot's login nodeprepped (%s, not %s)"
              % (BOTS[0], capital(BOTS[0])))

        r = ctl("sweep", "--rule", "case-login", "--csv", "--all", log)
        acc = {row["account"]: row for row in csv_rows(r.stdout)}
        check(r.returncode == 0 and all(a["suspect"] == "0" for a in acc.values())
              and all(acc[b + "@" + d]["case_logins"] == "0" for b in BOTS),
              "case-login rule: no suspects and no case-changed logins in a Prosody log")
        r = ctl("sweep", log)
        check(" 0 unparseable" in r.stdout.splitlines()[0],
              "every Prosody line parses: %s" % r.stdout.splitlines()[0])

        r = ctl("sweep", "--scored", "--csv", "--all", log)
        acc = {row["account"]: row for row in csv_rows(r.stdout)}
        check(r.returncode == 0 and all(a["suspect"] == "0" for a in acc.values()),
              "scored at the quarantine threshold: no suspects without login-case")
        r = ctl("sweep", "--scored", "--min-score", "6", "--csv", "--all", log)
        acc = {row["account"]: row for row in csv_rows(r.stdout)}
        for b in BOTS:
            a = acc.get(b + "@" + d)
            check(a is not None and a["suspect"] == "1" and a["sessions"] == "3"
                  and a["short_in_window"] == "3" and a["max_concurrent"] == "3"
                  and a["ips"] == "127.0.0.1" and a["verdict"] == "throttle"
                  and "short-sessions=4" in a["signals"]
                  and "overlap=3" in a["signals"],
                  "scored: bot %s found by the daemon's short-sessions + overlap (%s %s)"
                  % (b, a and a["score"], a and a["signals"]))
        for h in HUMANS:
            a = acc.get(h + "@" + d)
            check(a is not None and a["suspect"] == "0",
                  "scored: human %s is no suspect (score %s)" % (h, a and a["score"]))
        r = ctl("sweep", "--commands", "prosody", "--scored", "--min-score", "6", log)
        cmds = sorted(l for l in r.stdout.splitlines() if l and not l.startswith("#"))
        check(cmds == sorted("prosodyctl deluser %s@%s" % (b, d) for b in BOTS),
              "--commands prosody: one deluser per bot")

        r = ctl("report", log)
        head = r.stdout.splitlines()[1]
        check(head.startswith("6 failed logins (1 without a user name) from 1 hosts"),
              "report: %s" % head)
        r = ctl("report", "--csv", log)
        rep = {(row["kind"], row["key"]): row for row in csv_rows(r.stdout)}
        users = {k[1]: int(v["attempts"]) for k, v in rep.items() if k[0] == "user"}
        check(users == fails and rep[("host", "127.0.0.1")]["attempts"] == "6",
              "report --csv: failures per user name %s, 6 from 127.0.0.1" % users)


def main():
    exe = os.path.join(top_builddir(), "floodgatectl")
    if not os.access(exe, os.X_OK):
        skip("%s not built" % exe)
    ran = 0
    try:
        if ejmod.available():
            test_ejabberd()
            ran += 1
        else:
            print("ejabberd 23.01 not installed: its part is skipped")
        if os.access(PROSODY, os.X_OK) and os.path.exists(PROSODY_MODS):
            test_prosody()
            ran += 1
        else:
            print("Prosody or mod_log_auth not installed: its part is skipped")
    except Exception:  # noqa: BLE001 - any failure fails the test
        traceback.print_exc()
        print("FAIL")
        return 1
    if ran == 0:
        skip("neither ejabberd nor Prosody is installed")
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
