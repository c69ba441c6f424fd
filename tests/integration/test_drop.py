#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""[actions] drop against real Prosody and ejabberd with the real daemon.

floodgated runs with [actions] wave = drop, block = drop, quarantine =
bounce. On each server:
- six bots send the same spam link to strangers, round-robin, three
  times: a content wave. The refused spam (the gate's <deny
  action='drop'/>, then the module's cached quarantine with
  action='drop') vanishes: no bot receives an error, the strangers
  receive fewer than were sent, and the daemon counts the drops;
- an account blocked with floodgatectl (block = drop) writes to a
  stranger: nothing arrives, no error; a bot whose spam was dropped
  still gets its ping answered (the stream is fine, only spam vanished);
- an account quarantined with floodgatectl (quarantine = bounce) writes
  to a stranger: refused with policy-violation, as before.
Runs the ejabberd half only when ejabberd is installed.
"""
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest import ejabberd  # noqa: E402
from fgtest.client import connect, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

NBOTS = 6
ROUNDS = 3
SPAM = "Great offer!!! visit http://cheap-pills.example/buy now"
QUIET = 3.0  # seconds in which a dropped stanza would have shown up


def ctl(config, *args):
    argv = [os.path.join(top_builddir(), "floodgatectl"), args[0], "-c", config] + list(args[1:])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    print("$ floodgatectl %s -> %d %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    check(r.returncode == 0, "floodgatectl %s succeeds" % " ".join(args))


def users():
    return (["bot%d" % i for i in range(NBOTS)] + ["blocked", "held"] +
            ["s%02d" % i for i in range(ROUNDS * NBOTS + 2)])


async def scenario(srv, fg, r):
    d = srv.domain
    bots = await connect_many(srv, ["bot%d" % i for i in range(NBOTS)])
    blocked = await connect(srv, "blocked", "pw")
    held = await connect(srv, "held", "pw")
    strangers = await connect_many(srv, ["s%02d" % i for i in range(ROUNDS * NBOTS + 2)])
    clients = bots + [blocked, held] + strangers
    try:
        for rnd in range(ROUNDS):
            for i, b in enumerate(bots):
                b.message("s%02d@%s" % (ROUNDS * i + rnd, d), SPAM)
        await wait_until(lambda: False, QUIET)
        r["wave_got"] = sum(1 for s in strangers for f, _ in s.messages if f.startswith("bot"))
        r["wave_errors"] = [e for b in bots for e in b.errors]

        last = "s%02d@%s" % (ROUNDS * NBOTS, d)
        ctl(fg.config, "block", "blocked@" + d, "test", "drop")
        ctl(fg.config, "quarantine", "held@" + d, "test", "bounce")
        await wait_until(lambda: False, 1.5)  # the pushes reach the module
        blocked.message(last, "from a blocked account")
        held.message(last, "from a quarantined account")
        await wait_until(lambda: held.errors, QUIET)
        await wait_until(lambda: False, 1.0)
        got = [b for f, b in strangers[-2].messages]
        r["blocked_delivered"] = [b for b in got if "blocked" in b]
        r["blocked_errors"] = list(blocked.errors)
        r["held_delivered"] = [b for b in got if "quarantined" in b]
        r["held_errors"] = [e[2] for e in held.errors]
        try:
            r["bot_ping"] = await bots[0].ping(d, timeout=5)
        except Exception as e:  # noqa: BLE001 - the figure is the failure
            r["bot_ping"] = "failed: %s" % e
    finally:
        await disconnect_all(clients)


def verify(name, fg, r):
    sent = ROUNDS * NBOTS
    dropped = fg.metric("floodgate_policy_dropped_total")
    print("%s: wave %d of %d delivered, bot errors %s, gates answered drop %g"
          % (name, r["wave_got"], sent, r["wave_errors"], dropped))
    check(r["wave_got"] < sent, "%s: the wave is refused (%d of %d delivered)"
          % (name, r["wave_got"], sent))
    check(r["wave_errors"] == [], "%s: the refused spam vanished without an error" % name)
    check(dropped >= 1, "%s: the daemon answered drop (%g)" % (name, dropped))
    check(r["blocked_delivered"] == [] and r["blocked_errors"] == [],
          "%s: a blocked account's message vanishes without an error (%s)"
          % (name, r["blocked_errors"]))
    check(isinstance(r["bot_ping"], float),
          "%s: a bot whose spam was dropped still gets its ping answered (%s)"
          % (name, r["bot_ping"]))
    check(r["held_delivered"] == [] and r["held_errors"] == ["policy-violation"],
          "%s: quarantine = bounce still answers policy-violation (%s)"
          % (name, r["held_errors"]))


def one(name, srv, wd):
    fg = daemon.Floodgated(os.path.join(wd, "fg-" + name), srv,
                           sections={"actions": {"wave": "drop", "block": "drop",
                                                 "quarantine": "bounce"}})
    try:
        srv.start()
        srv.register_many([(u, "pw") for u in users()])
        fg.start()
        if name == "ejabberd":
            srv.wait_log("verdict cache for %s loaded" % srv.domain, timeout=15)
        r = {}
        run(scenario(srv, fg, r), timeout=150)
        verify(name, fg, r)
    except BaseException:
        srv.dump_log()
        fg.dump_log()
        raise
    finally:
        fg.stop()
        srv.stop()


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("drop") as wd:
        one("prosody", ProsodyServer(os.path.join(wd, "prosody")), wd)
        if ejabberd.available():
            one("ejabberd", ejabberd.EjabberdServer(os.path.join(wd, "ejabberd")), wd)
        else:
            print("ejabberd 23.01 not installed: the ejabberd half did not run")
    print("PASS test_drop")


if __name__ == "__main__":
    main()
