#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""floodgate in one minute: a throwaway Prosody on 127.0.0.1 with
mod_floodgate, floodgated attached with its SQLite store, a bot and a
human acting side by side through a real XMPP client library (slixmpp),
then what floodgate decided and why.

Run it through scripts/demo.sh (which installs and builds first), or
directly: top_builddir=build /usr/bin/python3 contrib/demo/demo.py
"""
import asyncio
import os
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

from fgtest import Workdir, daemon, top_builddir  # noqa: E402
from fgtest.client import connect, disconnect_all, run  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

BOT, HUMAN, FRIEND = "zaxirobo", "alice", "carol"
STRANGERS = ["user%02d" % i for i in range(30)]
LIMIT = "10/min burst 10"


def say(*a):
    print(*a, flush=True)


async def scenario(srv):
    d = srv.domain
    bot, human, friend = await asyncio.gather(
        connect(srv, BOT, "pw"), connect(srv, HUMAN, "pw"),
        connect(srv, FRIEND, "pw"))
    strangers = await asyncio.gather(*(connect(srv, u, "pw") for u in STRANGERS))
    # the bot already has one real contact: mutual subscription with carol
    bot.subscribe(FRIEND + "@" + d)
    await friend.settle(1.0)
    friend.approve(BOT + "@" + d)
    friend.subscribe(BOT + "@" + d)
    await bot.settle(1.0)
    bot.approve(FRIEND + "@" + d)
    await bot.settle(1.0)

    say("\n-- the human invites 3 people")
    for u in STRANGERS[:3]:
        human.subscribe(u + "@" + d)
    say("-- the bot floods 27 invitations to strangers, as fast as it can")
    for u in STRANGERS[3:]:
        bot.subscribe(u + "@" + d)
    await bot.settle(3.0)
    say("-- the bot messages its contact, then a stranger")
    bot.message(FRIEND + "@" + d, "hi carol, it's me")
    bot.message(STRANGERS[0] + "@" + d, "cheap pills at http://spam.example/")
    await bot.settle(2.0)

    got = {u: c.subscriptions for u, c in zip(STRANGERS, strangers)}
    from_human = sum(1 for u in STRANGERS[:3] if HUMAN + "@" + d in got[u])
    from_bot = sum(1 for u in STRANGERS[3:] if BOT + "@" + d in got[u])
    refused = [e for e in bot.errors if e[2]]
    by_cond = {}
    for e in refused:
        by_cond.setdefault(e[2], []).append(e)
    say("\nwhat the recipients saw:")
    say("  human's invitations delivered: %d of 3" % from_human)
    say("  bot's invitations delivered:   %d of 27 (limit %s)" % (from_bot, LIMIT))
    say("  bot's stanzas refused:         %d" % len(refused))
    for cond, es in sorted(by_cond.items()):
        say("     %2d x %s, e.g. \"%s\"" % (len(es), cond, es[-1][3]))
    say("  bot's message to its contact:  %s" % (
        "delivered" if any(b.startswith("hi carol") for _, b in friend.messages)
        else "NOT delivered"))
    say("  bot's message to a stranger:   %s" % (
        "delivered" if any("pills" in b for _, b in strangers[0].messages)
        else "refused"))
    await disconnect_all([bot, human, friend] + list(strangers))


async def after_unblock(srv):
    d = srv.domain
    bot, target = await asyncio.gather(connect(srv, BOT, "pw", resource="again"),
                                       connect(srv, STRANGERS[-1], "pw", resource="again"))
    await bot.settle(0.5)
    bot.subscribe(STRANGERS[-1] + "@" + d)
    await bot.settle(1.5)
    say("  the bot's next invitation:     %s" % (
        "delivered" if BOT + "@" + d in target.subscriptions else "NOT delivered"))
    await disconnect_all([bot, target])


def admin(fg, *args):
    ctl = os.path.join(top_builddir(), "floodgatectl")
    say("\n$ floodgatectl %s" % " ".join(args))
    out = subprocess.run([ctl, args[0], "-c", fg.config] + list(args[1:]),
                         capture_output=True, text=True, timeout=20)
    say((out.stdout + out.stderr).rstrip())


def report(db):
    say("\nwhat floodgate decided (from its SQLite store, %s):" % db)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT type, key, verdict, round(score, 1), override "
                       "FROM subjects WHERE verdict != 'allow' OR override != 'none' "
                       "ORDER BY score DESC").fetchall()
    if not rows:
        say("  (no subject above allow)")
    for t, k, v, s, o in rows:
        say("  %-8s %-28s %-10s score %-6s%s" % (t, k, v, s,
            "" if o == "none" else " override " + o))
    say("\naudit log (every verdict change, with its reason and evidence):")
    for at, t, k, old, new, reason, sig, actor in con.execute(
            "SELECT at, type, key, old, new, reason, signals, actor FROM audit ORDER BY id"):
        say("  %s %s %s: %s -> %s by %s: %s [%s]" % (
            time.strftime("%H:%M:%S", time.localtime(at / 1000)), t, k, old, new,
            actor, reason or "", sig or ""))
    con.close()


def main():
    if not daemon.available():
        say("floodgated is not built (%s); run scripts/demo.sh" % daemon.binary())
        return 1
    with Workdir("demo") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"), domain="demo.test")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               limits={"account.subscribe": LIMIT})
        try:
            say("starting Prosody 0.12 on 127.0.0.1:%d (domain %s) with mod_floodgate"
                % (srv.c2s_port, srv.domain))
            srv.start()
            srv.register_many([(u, "pw") for u in [BOT, HUMAN, FRIEND] + STRANGERS])
            say("starting floodgated (component %s, store %s)" % (srv.component_jid, fg.db))
            fg.start()
            t0 = time.time()
            run(scenario(srv), timeout=90)
            say("\nan admin looks at the bot, and (say it was a false positive) lifts it:")
            admin(fg, "inspect", BOT + "@" + srv.domain)
            admin(fg, "unblock", BOT + "@" + srv.domain, "demo: reviewed by hand")
            run(after_unblock(srv), timeout=30)
        finally:
            fg.stop()
            srv.stop()
        report(fg.db)
        say("\ndone in %.1f s" % (time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
