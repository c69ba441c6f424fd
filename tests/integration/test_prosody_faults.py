#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Scenario C: floodgated dies and comes back, Prosody keeps going.

- an account floods invitations and is quarantined; the decision reaches
  the store;
- floodgated hangs (SIGSTOP): the gate waits floodgate_timeout and lets
  the stanza through, logged;
- floodgated is killed with SIGKILL mid-run: Prosody keeps delivering
  (fail open, fast) and mod_floodgate logs it; the cached quarantine is
  still enforced;
- Prosody restarts while floodgated is down (its verdict cache is gone),
  then floodgated restarts on the same store: the module resyncs and the
  quarantine set before the kill is enforced again without asking the
  daemon (its gate counter does not move).
"""
import asyncio
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

BURST = 3
FLOOD = 15


def verdict_line(srv):
    return re.search(r"Verdict account bot@%s: (quarantine|block)" % re.escape(srv.domain),
                     srv.log_text())


async def phase_flood(srv, r):
    d = srv.domain
    bot = await connect(srv, "bot", "pw")
    try:
        for i in range(FLOOD):
            bot.subscribe("v%02d@%s" % (i, d))
        await wait_until(lambda: len(bot.errors) >= FLOOD - BURST, 10)
        r["flood_refused"] = len(bot.errors)
        r["quarantined"] = await wait_until(lambda: verdict_line(srv), 10)
    finally:
        await disconnect_all([bot])


async def phase_down(srv, r):
    """floodgated is dead: ordinary traffic flows, the cache still holds."""
    d = srv.domain
    alice, bob, carol, bot = await connect_many(srv, ["alice", "bob", "carol", "bot"])
    try:
        t0 = time.monotonic()
        alice.message("bob@" + d, "stranger message while floodgate is down")
        alice.subscribe("carol@" + d)
        ok = await wait_until(lambda: bob.messages and "alice@" + d in carol.subscriptions, 5)
        r["down_delivered"] = ok
        r["down_latency"] = time.monotonic() - t0
        r["down_errors"] = list(alice.errors)
        # (On login, mod_presence re-sends the bot's pending invitations;
        # the module refuses those too, so look at message errors only.)
        bot.message("carol@" + d, "spam while floodgate is down")
        await wait_until(lambda: [e for e in bot.errors if e[0] == "message"], 3)
        r["down_bot_errors"] = [e[2] for e in bot.errors if e[0] == "message"]
        await asyncio.sleep(0.3)
        r["down_carol_spam"] = [b for f, b in carol.messages if f == "bot@" + d]
    finally:
        await disconnect_all([alice, bob, carol, bot])


async def phase_hung(srv, r):
    """floodgated stopped (SIGSTOP): the gate times out, the stanza flows."""
    d = srv.domain
    erin, frank = await connect_many(srv, ["erin", "frank"])
    try:
        t0 = time.monotonic()
        erin.message("frank@" + d, "stranger message while floodgate hangs")
        ok = await wait_until(lambda: frank.messages, 5, step=0.01)
        r["hung_delivered"] = bool(ok)
        r["hung_latency"] = time.monotonic() - t0
        r["hung_errors"] = list(erin.errors)
    finally:
        await disconnect_all([erin, frank])


async def phase_back(srv, fg, r):
    d = srv.domain
    bot, dave = await connect_many(srv, ["bot", "dave"])
    try:
        await asyncio.sleep(0.5)
        gates0 = fg.metric("floodgate_gates_total")
        nerr = len(bot.errors)  # re-sent pending invitations, refused
        bot.message("dave@" + d, "spam after the restart")
        bot.subscribe("dave@" + d)
        await wait_until(lambda: len(bot.errors) >= nerr + 2, 5)
        await asyncio.sleep(0.5)
        r["back_bot_errors"] = [(e[0], e[2]) for e in bot.errors[nerr:]
                                if e[1] == "dave@" + d]
        r["back_dave_got"] = list(dave.messages) + list(dave.subscriptions)
        r["back_gates_delta"] = fg.metric("floodgate_gates_total") - gates0
    finally:
        await disconnect_all([bot, dave])


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("faults") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv, limits={
            "account.subscribe": "%d/min burst %d" % (BURST, BURST)})
        try:
            srv.start()
            srv.register_many([(u, "pw") for u in ["bot", "alice", "bob", "carol", "dave",
                                                        "erin", "frank"]] +
                              [("v%02d" % i, "pw") for i in range(FLOOD)])
            fg.start()
            r = {}
            run(phase_flood(srv, r), timeout=60)
            print("flood: %d of %d invitations refused; verdict line: %s"
                  % (r["flood_refused"], FLOOD, r["quarantined"] and r["quarantined"].group(0)))
            check(r["quarantined"], "the flooding account is quarantined and the module knows it")

            # Let the write-behind reach SQLite before the crash.
            end = time.monotonic() + 10
            while time.monotonic() < end and fg.metric("floodgate_store_queued_rows") > 0:
                time.sleep(0.1)
            time.sleep(1.5)
            print("store before the kill: queued rows %g, flushes %g"
                  % (fg.metric("floodgate_store_queued_rows"),
                     fg.metric("floodgate_store_flushes_total")))

            # A hung daemon: the module waits floodgate_timeout, then fails open.
            mark = len(srv.log_text())
            os.kill(fg.pid, signal.SIGSTOP)
            try:
                run(phase_hung(srv, r), timeout=30)
            finally:
                os.kill(fg.pid, signal.SIGCONT)
            print("measured: with floodgated stopped (SIGSTOP), a stranger message was "
                  "delivered after %.3f s" % r["hung_latency"])
            check(r["hung_delivered"] and not r["hung_errors"], "delivered despite the hung daemon")
            check(0.2 <= r["hung_latency"] < 1.5,
                  "the gate waited about floodgate_timeout (0.25 s) and failed open (%.3f s)"
                  % r["hung_latency"])
            logged = re.search(r"gate failed \(timeout\)[^\n]*", srv.log_text()[mark:])
            print("module log: %s" % (logged.group(0) if logged else None))
            check(logged is not None, "mod_floodgate logs the timeout")
            check(fg.wait_healthy(5), "floodgated healthy again after SIGCONT")

            mark = len(srv.log_text())
            fg.kill()
            print("floodgated killed with SIGKILL")
            run(phase_down(srv, r), timeout=60)
            print("measured: with floodgated dead, stranger message + invitation delivered in "
                  "%.3f s (errors %s)" % (r["down_latency"], r["down_errors"]))
            check(r["down_delivered"] and not r["down_errors"],
                  "the server keeps delivering gated stanzas (fail open)")
            check(r["down_latency"] < 2.0, "fail open is fast (%.3f s)" % r["down_latency"])
            logged = re.search(r"gate failed \((down|timeout|error)\)[^\n]*", srv.log_text()[mark:])
            print("module log: %s" % (logged.group(0) if logged else None))
            check(logged is not None, "mod_floodgate logs the fail-open")
            check(r["down_bot_errors"] == ["policy-violation"] and not r["down_carol_spam"],
                  "the cached quarantine still holds while floodgated is down (%s)"
                  % r["down_bot_errors"])

            # Prosody restarts while floodgated is dead: the cache is gone.
            srv.restart()
            mark = len(srv.log_text())
            t0 = time.monotonic()
            fg.start()
            up = time.monotonic() - t0
            synced = None
            end = time.monotonic() + 10
            while time.monotonic() < end:
                synced = re.search(r"Verdict cache replaced by the full set \(seq \d+, (\d+) entries\)",
                                   srv.log_text()[mark:])
                if synced and int(synced.group(1)) >= 1:
                    break
                time.sleep(0.1)
            print("measured: floodgated restarted, link up in %.2f s; module: %s"
                  % (up, synced.group(0) if synced else None))
            check(synced and int(synced.group(1)) >= 1,
                  "the module resynced the full verdict set from the restarted daemon")
            run(phase_back(srv, fg, r), timeout=60)
            print("after restart: bot errors %s, gates asked %g" % (r["back_bot_errors"],
                                                                   r["back_gates_delta"]))
            check(sorted(r["back_bot_errors"]) == [("message", "policy-violation"),
                                                   ("presence", "policy-violation")],
                  "the quarantine set before the kill is enforced again")
            check(not r["back_dave_got"], "nothing from the quarantined account was delivered")
            check(r["back_gates_delta"] == 0, "enforced from the cache, without asking the daemon")
            rc = fg.stop()
            check(rc == 0, "floodgated exits 0 on SIGTERM after recovery (got %s)" % rc)
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS test_prosody_faults")


if __name__ == "__main__":
    main()
