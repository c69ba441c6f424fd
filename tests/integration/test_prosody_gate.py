#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Scenario A: invitation flood from a fresh account on Prosody.

account.subscribe = 10/min burst 10. A fresh account sends 40 subscription
requests to distinct users within a few seconds:
- at most 10 reach their recipients (counted at the recipients), the rest
  are refused with policy-violation;
- the account ends quarantined;
- its message to an existing contact is delivered, to strangers refused;
- a human account sending 3 invitations is untouched;
- a forged <meter/> message and a forged <gate/> IQ sent by a local user
  straight to the component are refused and change nothing.
"""
import asyncio
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect, connect_many, disconnect_all, error_condition, run, wait_until  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

FLOOD = 40
BURST = 10
NS = "urn:floodgate:0"


async def scenario(srv, fg, results):
    d = srv.domain
    targets = ["t%02d" % i for i in range(FLOOD)]
    bot = await connect(srv, "spambot", "pw")
    friend = await connect(srv, "friend", "pw")
    human = await connect(srv, "human", "pw")
    stranger = await connect(srv, "stranger", "pw")
    hts = await connect_many(srv, ["h0", "h1", "h2"])
    tcs = await connect_many(srv, targets)
    clients = [bot, friend, human, stranger] + hts + tcs
    try:
        # An existing contact: friend asks, the bot approves (no
        # invitation spent by the bot).
        friend.subscribe("spambot@" + d)
        await wait_until(lambda: "friend@" + d in bot.subscriptions, 5)
        bot.approve("friend@" + d)
        await asyncio.sleep(0.5)

        # The flood.
        t0 = time.monotonic()
        for t in targets:
            bot.subscribe("%s@%s" % (t, d))
        sent_in = time.monotonic() - t0
        await wait_until(lambda: len(bot.errors) + sum(
            1 for c in tcs if "spambot@" + d in c.subscriptions) >= FLOOD, 15)
        await asyncio.sleep(1.0)  # stragglers
        delivered = sum(1 for c in tcs if "spambot@" + d in c.subscriptions)
        refusals = [e for e in bot.errors if e[0] == "presence"]
        by_cond = {}
        for e in refusals:
            by_cond[e[2]] = by_cond.get(e[2], 0) + 1
        results.update(sent_in=sent_in, delivered=delivered,
                       refused=len(refusals), by_condition=by_cond,
                       last_condition=refusals[-1][2] if refusals else None,
                       conditions=sorted({e[2] for e in refusals}),
                       texts=sorted({e[3] for e in refusals}))

        # Quarantine, as the module learns it from the daemon's pushes
        # (the last verdict logged for the account is the one in force).
        def verdicts():
            return re.findall(r"Verdict account spambot@%s: (\w+)" % re.escape(d),
                              srv.log_text())
        q = await wait_until(lambda: verdicts() and verdicts()[-1] in ("quarantine", "block"), 10)
        results["verdict"] = verdicts()
        results["quarantined"] = bool(q)

        # Contact still reachable, strangers not.
        nerr = len(bot.errors)
        bot.message("friend@" + d, "hello friend")
        bot.message("stranger@" + d, "buy cheap stuff")
        bot.message("h0@" + d, "buy cheap stuff")
        await wait_until(lambda: friend.messages and len(bot.errors) >= nerr + 2, 5)
        await asyncio.sleep(0.5)
        results["friend_got"] = [b for f, b in friend.messages if f == "spambot@" + d]
        results["stranger_got"] = [b for f, b in stranger.messages + hts[0].messages
                                   if f == "spambot@" + d]
        results["msg_errors"] = [e for e in bot.errors[nerr:] if e[0] == "message"]

        # A human with 3 invitations.
        for h in ("h0", "h1", "h2"):
            human.subscribe("%s@%s" % (h, d))
        await wait_until(lambda: all("human@" + d in c.subscriptions for c in hts), 5)
        await asyncio.sleep(0.5)
        results["human_delivered"] = sum(1 for c in hts if "human@" + d in c.subscriptions)
        results["human_errors"] = list(human.errors)

        # Forgeries by a local user, straight to the component.
        await asyncio.sleep(1.5)  # let pending meter batches land
        before = {k: fg.metric(k) for k in ("floodgate_meter_events_total",
                                             "floodgate_gates_total",
                                             "floodgate_verdict_changes_total")}
        untrusted0 = fg.metric("floodgate_refused_total", reason="untrusted")
        merr = len(human.errors)
        msg = human.make_message(mto=srv.component_jid)
        import xml.etree.ElementTree as ET
        meter = ET.SubElement(msg.xml, "{%s}meter" % NS)
        for i in range(20):
            ET.SubElement(meter, "{%s}event" % NS, type="auth-fail", login="root",
                          ip="192.0.2.%d" % i, exists="0")
        msg.send()
        gate = await human.iq(
            "<iq type='get' to='%s'><gate xmlns='%s' kind='subscribe' from='human@%s' "
            "to='victim@%s' ip='192.0.2.1'/></iq>" % (srv.component_jid, NS, d, d))
        await wait_until(lambda: len(human.errors) > merr, 3)
        await asyncio.sleep(1.5)
        after = {k: fg.metric(k) for k in before}
        results["forged_gate"] = (gate["type"] if gate is not None else None,
                                  error_condition(gate)[0])
        results["forged_meter_errors"] = human.errors[merr:]
        results["untrusted"] = fg.metric("floodgate_refused_total", reason="untrusted") - untrusted0
        results["metrics_before"], results["metrics_after"] = before, after
    finally:
        await disconnect_all(clients)


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("gate") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv, limits={
            "account.subscribe": "%d/min burst %d" % (BURST, BURST)})
        try:
            srv.start()
            users = ["spambot", "friend", "human", "stranger", "h0", "h1", "h2"] + \
                ["t%02d" % i for i in range(FLOOD)]
            t = time.monotonic()
            srv.register_many([(u, "pw") for u in users])
            print("registered %d accounts in %.1f s" % (len(users), time.monotonic() - t))
            fg.start()
            r = {}
            run(scenario(srv, fg, r), timeout=120)

            print("measured: %d invitations sent in %.2f s; delivered %d, refused %d %s"
                  % (FLOOD, r["sent_in"], r["delivered"], r["refused"], r["by_condition"]))
            print("refusal texts: %s" % r["texts"])
            check(r["delivered"] <= BURST, "at most %d invitations delivered (%d)" % (BURST, r["delivered"]))
            check(r["delivered"] + r["refused"] == FLOOD,
                  "every invitation delivered or refused (%d + %d)" % (r["delivered"], r["refused"]))
            # doc/design.md: a throttled account's over-limit invitations get
            # resource-constraint ("retry later"); once quarantined, the
            # module refuses them with policy-violation from its cache.
            check(set(r["conditions"]) <= {"policy-violation", "resource-constraint"},
                  "refusals are policy-violation or resource-constraint (%s)"
                  % r["by_condition"])
            check(r["last_condition"] == "policy-violation",
                  "after the quarantine the refusals are policy-violation")
            print("verdicts pushed to Prosody, in order: %s" % (r["verdict"],))
            check(r["quarantined"] and r["verdict"][-1] == "quarantine",
                  "the flooding account ends quarantined (%s)" % (r["verdict"],))
            check(r["friend_got"] == ["hello friend"], "its message to an existing contact is delivered")
            check(r["stranger_got"] == [], "its messages to strangers are not delivered")
            conds = [e[2] for e in r["msg_errors"]]
            check(conds == ["policy-violation"] * 2,
                  "its messages to strangers are refused with policy-violation (%s)" % conds)
            check(r["human_delivered"] == 3 and not r["human_errors"],
                  "a human's 3 invitations are delivered untouched (%d, errors %s)"
                  % (r["human_delivered"], r["human_errors"]))
            print("forged gate answer: %s; forged meter answers: %s; untrusted refusals counted: %g"
                  % (r["forged_gate"], r["forged_meter_errors"], r["untrusted"]))
            check(r["forged_gate"] == ("error", "forbidden"), "forged <gate/> IQ refused with forbidden")
            check(len(r["forged_meter_errors"]) >= 1, "forged <meter/> answered with an error message")
            check(r["untrusted"] >= 2, "both forgeries counted as untrusted (%g)" % r["untrusted"])
            check(r["metrics_before"] == r["metrics_after"],
                  "forgeries changed nothing (%s)" % r["metrics_after"])
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS test_prosody_gate")


if __name__ == "__main__":
    main()
