#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The detectors against a real Prosody and a real floodgated.

20 bots (generated pronounceable names; each logs in with its name
capitalised, opens three overlapping connections of a few seconds, and
sends the same link to two strangers) and 20 humans (lowercase logins,
one long session, mutual contacts, messages to those contacts, including
one popular link they all share) act concurrently. Expected: every bot
quarantined (or worse), no human quarantined, and each bot's evidence
(login-case, short-sessions, overlap, content-wave) in the audit log the
daemon writes for inspect. Prints precision and recall.

Accounts are created with prosodyctl before the daemon starts (the
fixture's Prosody has in-band registration off), so the registration
wave detector is not exercised here; tests/check_detect.c covers it.
"""
import asyncio
import json
import os
import random
import sqlite3
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import RawSession, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

NBOTS = 20
NHUMANS = 20
SPAM = "Great offer!!! visit http://cheap-pills.example/buy now"
POPULAR = "have you seen this? https://news.example/article/42"
BOT_SIGNALS = ("login-case", "short-sessions", "overlap")


def pronounceable(rng, n):
    """Bot-style names: consonant-vowel syllables (Abupe, Zaxirobo)."""
    cons, vow = "bcdfghjklmnprstvxz", "aeiouy"
    names = set()
    while len(names) < n:
        s = "".join(rng.choice(cons) + rng.choice(vow)
                    for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.5:
            s = rng.choice(vow) + s
        names.add(s)
    return sorted(names)


def bot_run(srv, name, strangers):
    """Three overlapping raw sessions, capitalised login, a few seconds
    each; the first sends the spam link to two strangers."""
    d = srv.domain
    login = name[0].upper() + name[1:]
    sessions = []
    for i in range(3):
        s = RawSession(srv)
        ok = s.login(login, "pw", resource="bot%d" % i)
        if ok is not True:
            raise RuntimeError("bot %s login failed: %s" % (login, ok))
        sessions.append(s)
        time.sleep(0.3)
    for to in strangers:
        sessions[0]._send("<message type='chat' to='%s@%s' id='m%s'><body>%s</body></message>"
                          % (to, d, to, SPAM))
    time.sleep(2.5)
    for s in sessions:
        s.close()
        time.sleep(0.2)


async def humans_befriend(hs, names, d):
    """Ring of mutual subscriptions: h[i] <-> h[i+1]."""
    n = len(hs)
    for i in range(n):
        a, b = hs[i], hs[(i + 1) % n]
        a.subscribe("%s@%s" % (names[(i + 1) % n], d))
        b.subscribe("%s@%s" % (names[i], d))
    await wait_until(lambda: all(len(c.subscriptions) >= 2 for c in hs), 15)
    for i in range(n):
        for who in set(hs[i].subscriptions):
            hs[i].approve(who)
    await asyncio.sleep(1.5)


async def scenario(srv, bots, humans, results):
    d = srv.domain
    rng = random.Random(7)
    hs = await connect_many(srv, humans)
    try:
        await humans_befriend(hs, humans, d)
        loop = asyncio.get_running_loop()
        jobs = []
        for b in bots:
            strangers = rng.sample(humans, 2)
            jobs.append(loop.run_in_executor(None, bot_run, srv, b, strangers))
        # the humans talk to their contacts meanwhile
        for rnd in range(3):
            for i, h in enumerate(hs):
                to = "%s@%s" % (humans[(i + 1) % len(hs)], d)
                h.message(to, POPULAR if rnd == 0 else "hi, round %d" % rnd)
                back = "%s@%s" % (humans[i - 1], d)
                h.message(back, "see you later")
            await asyncio.sleep(1.0)
        await asyncio.gather(*jobs)
        await asyncio.sleep(3.0)  # meter batches (1 s) and the store flush
        results["human_msgs"] = sum(len(h.messages) for h in hs)
    finally:
        await disconnect_all(hs)


def read_verdicts(db, d, names):
    con = sqlite3.connect(db)
    try:
        out = {}
        for n in names:
            jid = "%s@%s" % (n, d)
            row = con.execute("SELECT verdict, score FROM subjects WHERE type='account' AND key=?",
                              (jid,)).fetchone()
            sigs = [r[0] or "" for r in con.execute(
                "SELECT signals FROM audit WHERE type='account' AND key=? ORDER BY id", (jid,))]
            out[n] = (row[0] if row else "allow", row[1] if row else 0.0, " ".join(sigs))
        return out
    finally:
        con.close()


def inspect_text(fg, jid):
    """What `floodgatectl inspect` shows for jid (all of its strings), or
    "" when the admin tool is not built."""
    ctl = os.path.join(os.path.dirname(daemon.binary()), "floodgatectl")
    if not os.access(ctl, os.X_OK):
        return ""
    r = subprocess.run([ctl, "inspect", "-c", fg.config, "--json", "account:" + jid],
                       capture_output=True, text=True, timeout=10)
    try:
        doc = json.loads(r.stdout)
    except ValueError:
        return r.stdout

    def strings(x):
        if isinstance(x, dict):
            return " ".join(strings(v) for v in x.values())
        if isinstance(x, list):
            return " ".join(strings(v) for v in x)
        return str(x)
    return strings(doc)


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    rng = random.Random(42)
    bots = pronounceable(rng, NBOTS)
    humans = ["human%02d" % i for i in range(NHUMANS)]
    with Workdir("detectors") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv)
        try:
            srv.start()
            t = time.monotonic()
            srv.register_many([(u, "pw") for u in bots + humans])
            print("registered %d accounts in %.1f s" % (len(bots) + len(humans),
                                                       time.monotonic() - t))
            fg.start()
            r = {}
            run(scenario(srv, bots, humans, r), timeout=180)
            deadline = time.monotonic() + 10
            while True:
                v = read_verdicts(fg.db, srv.domain, bots + humans)
                if all(v[b][0] in ("quarantine", "block") for b in bots) or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            bad = ("quarantine", "block")
            tp = sum(1 for b in bots if v[b][0] in bad)
            fp = sum(1 for h in humans if v[h][0] in bad)
            fn = NBOTS - tp
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / NBOTS
            for b in bots:
                ins = inspect_text(fg, "%s@%s" % (b, srv.domain))
                v[b] = (v[b][0], v[b][1], v[b][2] + " " + ins)
            for b in bots:
                ev = sorted({t.split("=")[0] for t in v[b][2].split() if "=" in t})
                print("bot   %-12s %-10s score %5.1f  evidence: %s" % (b, v[b][0], v[b][1], " ".join(ev)))
            for h in humans:
                if v[h][0] != "allow" or v[h][1] > 0:
                    print("human %-12s %-10s score %5.1f  evidence: %s" % (h, v[h][0], v[h][1], v[h][2]))
            print("humans received %d messages" % r.get("human_msgs", 0))
            print("bots quarantined: %d/%d; humans quarantined: %d/%d" % (tp, NBOTS, fp, NHUMANS))
            print("precision %.3f recall %.3f (tp %d fp %d fn %d)" % (precision, recall, tp, fp, fn))
            check(tp == NBOTS, "every bot quarantined (%d/%d)" % (tp, NBOTS))
            check(fp == 0, "no human quarantined (%d)" % fp)
            for b in bots:
                missing = [s for s in BOT_SIGNALS if s + "=" not in v[b][2]]
                check(not missing, "evidence for %s in inspect/audit (missing %s)" % (b, missing))
            check(r.get("human_msgs", 0) >= NHUMANS, "humans' messages to contacts delivered")
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS test_detectors")


if __name__ == "__main__":
    main()
