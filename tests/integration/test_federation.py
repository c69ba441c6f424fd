#!/usr/bin/python3
"""Issue 4, scenario B: an invitation wave from a remote domain, over real s2s.

Two Prosody servers federate on loopback (a.test on 127.0.0.2, b.test on
127.0.0.3, dialback without TLS, names from a hosts file of the test's own
through libunbound). floodgated serves b.test only, with
domain.inbound-subscribe = 10/min burst 10; mod_floodgate runs on b.test.

- alice@a.test and bob@b.test become mutual contacts before the wave;
- 30 accounts of a.test each send subscription requests to 2 distinct
  users of b.test (60 in all): at most the burst (plus what the rate
  refills) reaches the recipients, counted at the recipients; the rest
  are refused back over s2s;
- the daemon's store ends with a.test quarantined, its audit log shows the
  way there went through throttle;
- alice and bob keep chatting both ways during the wave and after it;
- once the quarantine is pushed to b.test, further invitations from a.test
  are refused by mod_floodgate from its cache without asking the daemon
  (floodgate_gates_total does not move), and alice, a contact, still
  talks to bob while a message of hers to a stranger on b.test is refused.

Exit 0 on pass, 77 when floodgated is not built.
"""
import asyncio
import os
import re
import sqlite3
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.federation import federated_pair  # noqa: E402

A, B = ("a.test", "127.0.0.2"), ("b.test", "127.0.0.3")
SPAMMERS = 30
PER_SPAMMER = 2
TARGETS = 30
BURST = 10
RATE = 10  # per minute
LATE = 5   # invitations after the quarantine reached b.test


def got_from(client, sender):
    return [b for f, b in client.messages if f == sender]


def store_verdicts(db):
    """(subjects verdict of a.test or None, audit transitions of a.test)."""
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
        try:
            row = con.execute("SELECT verdict FROM subjects WHERE type='domain' AND key=?",
                              (A[0],)).fetchone()
            audit = con.execute("SELECT old, new FROM audit WHERE type='domain' AND key=? "
                                "ORDER BY at, id", (A[0],)).fetchall()
        finally:
            con.close()
        return (row[0] if row else None), audit
    except sqlite3.Error as e:
        return "error: %s" % e, []


async def scenario(a, b, fg, r):
    da, db = a.domain, b.domain
    alice_jid, bob_jid = "alice@" + da, "bob@" + db
    spam_users = ["s%02d" % i for i in range(SPAMMERS)]
    target_users = ["t%02d" % i for i in range(TARGETS)]
    alice = await connect(a, "alice", "pw")
    bob = await connect(b, "bob", "pw")
    carol = await connect(b, "carol", "pw")  # a stranger to alice
    spammers = await connect_many(a, spam_users)
    targets = await connect_many(b, target_users)
    clients = [alice, bob, carol] + spammers + targets
    chat = {"ab": 0, "ba": 0}

    def say(direction, tag):
        chat[direction] += 1
        if direction == "ab":
            alice.message(bob_jid, "%s a->b %d" % (tag, chat["ab"]))
        else:
            bob.message(alice_jid, "%s b->a %d" % (tag, chat["ba"]))

    try:
        # -- the established pair, before the wave ----------------------
        alice.subscribe(bob_jid)
        await wait_until(lambda: alice_jid in bob.subscriptions, 10)
        bob.approve(alice_jid)
        bob.subscribe(alice_jid)
        await wait_until(lambda: bob_jid in alice.subscriptions, 10)
        alice.approve(bob_jid)
        await asyncio.sleep(1.0)
        r["pair_items"] = (alice.client_roster[bob_jid]["subscription"],
                           bob.client_roster[alice_jid]["subscription"])
        say("ab", "before")
        say("ba", "before")
        await wait_until(lambda: got_from(bob, alice_jid) and got_from(alice, bob_jid), 10)
        r["before"] = (len(got_from(bob, alice_jid)), len(got_from(alice, bob_jid)))
        gates0 = fg.metric("floodgate_gates_total")

        # -- the wave, with the pair chatting in between ------------------
        t0 = time.monotonic()
        sent = 0
        for rnd in range(PER_SPAMMER):
            for i, s in enumerate(spammers):
                s.subscribe("%s@%s" % (target_users[(i + rnd * 7) % TARGETS], db))
                sent += 1
                if sent % 6 == 0:
                    say("ab", "during")
                    say("ba", "during")
                    await asyncio.sleep(0.05)
        r["sent_in"] = time.monotonic() - t0
        r["sent"] = sent

        def delivered():
            return sum(1 for t in targets for j in t.subscriptions if j.endswith("@" + da))

        def refused():
            return sum(len([e for e in s.errors if e[0] == "presence"]) for s in spammers)

        await wait_until(lambda: delivered() + refused() >= sent, 20)
        await asyncio.sleep(1.0)
        r["wave_secs"] = time.monotonic() - t0
        r["delivered"], r["refused"] = delivered(), refused()
        conds = {}
        for s in spammers:
            for e in s.errors:
                conds[e[2]] = conds.get(e[2], 0) + 1
        r["conditions"] = conds
        r["texts"] = sorted({e[3] for s in spammers for e in s.errors})
        r["during_ab"] = len([x for x in got_from(bob, alice_jid) if x.startswith("during")])
        r["during_ba"] = len([x for x in got_from(alice, bob_jid) if x.startswith("during")])
        r["during_sent"] = (chat["ab"] - 1, chat["ba"] - 1)
        r["wave_gates"] = fg.metric("floodgate_gates_total") - gates0

        # -- the quarantine, as pushed to b.test ----------------------------
        def pushed():
            return re.findall(r"Verdict domain %s: (\w+)" % re.escape(da), b.log_text())
        await wait_until(lambda: pushed() and pushed()[-1] == "quarantine", 10)
        r["pushed"] = pushed()

        # -- after: cached enforcement, no questions asked ------------------
        await asyncio.sleep(1.5)  # meter batches of the chat land first
        gates1 = fg.metric("floodgate_gates_total")
        errs0 = [len(s.errors) for s in spammers]
        d0 = delivered()
        late_to = ["u%02d" % i for i in range(LATE)]
        late = await connect_many(b, late_to)
        clients += late
        for i, u in enumerate(late_to):
            spammers[i].subscribe("%s@%s" % (u, db))
        nerr_alice = len(alice.errors)
        alice.message("carol@" + db, "hi stranger")
        for _ in range(5):
            say("ab", "after")
            say("ba", "after")
        await wait_until(lambda: sum(len(s.errors) for s in spammers) - sum(errs0) >= LATE
                         and len(alice.errors) > nerr_alice, 10)
        await wait_until(lambda: len([x for x in got_from(bob, alice_jid) if x.startswith("after")]) >= 5
                         and len([x for x in got_from(alice, bob_jid) if x.startswith("after")]) >= 5, 10)
        await asyncio.sleep(1.0)
        r["late_refused"] = [e[2] for i, s in enumerate(spammers) for e in s.errors[errs0[i]:]]
        r["late_delivered"] = sum(1 for c in late for j in c.subscriptions if j.endswith("@" + da)) + \
            (delivered() - d0)
        r["late_gates"] = fg.metric("floodgate_gates_total") - gates1
        r["alice_stranger"] = ([e[2] for e in alice.errors[nerr_alice:]], got_from(carol, alice_jid))
        r["after_ab"] = len([x for x in got_from(bob, alice_jid) if x.startswith("after")])
        r["after_ba"] = len([x for x in got_from(alice, bob_jid) if x.startswith("after")])
        r["pair_errors"] = [e for e in alice.errors + bob.errors if e[1] in (alice_jid, bob_jid)]
    finally:
        await disconnect_all(clients)


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("federation") as wd:
        a, b = federated_pair(wd, A, B, floodgate_on=(B[0],))
        fg = daemon.Floodgated(os.path.join(wd, "fg"), b, limits={
            "domain.inbound-subscribe": "%d/min burst %d" % (RATE, BURST)})
        try:
            a.start()
            b.start()
            t = time.monotonic()
            a.register_many([(u, "pw") for u in ["alice"] + ["s%02d" % i for i in range(SPAMMERS)]])
            b.register_many([(u, "pw") for u in ["bob", "carol"] + ["t%02d" % i for i in range(TARGETS)]
                             + ["u%02d" % i for i in range(LATE)]])
            print("registered %d + %d accounts in %.1f s"
                  % (1 + SPAMMERS, 2 + TARGETS + LATE, time.monotonic() - t))
            fg.start()
            r = {}
            run(scenario(a, b, fg, r), timeout=180)
            verdict, audit = store_verdicts(fg.db)
            end = time.monotonic() + 5
            while verdict != "quarantine" and time.monotonic() < end:
                time.sleep(0.2)
                verdict, audit = store_verdicts(fg.db)
            r["store"], r["audit"] = verdict, audit

            print("measured: pair %s/%s; %d invitations from %d a.test accounts sent in %.2f s; "
                  "delivered %d, refused %d %s; %g gates asked"
                  % (r["pair_items"] + (r["sent"], SPAMMERS, r["sent_in"], r["delivered"],
                                        r["refused"], r["conditions"], r["wave_gates"])))
            print("refusal texts: %s" % r["texts"])
            print("pushed to b.test: %s; store: %s; audit: %s" % (r["pushed"], r["store"], r["audit"]))
            print("chat during the wave: a->b %d/%d, b->a %d/%d; after: %d/5, %d/5"
                  % (r["during_ab"], r["during_sent"][0], r["during_ba"], r["during_sent"][1],
                     r["after_ab"], r["after_ba"]))
            print("after the quarantine: %d invitations -> refused %s, delivered %d, gates asked %g; "
                  "alice to a stranger: %s" % (LATE, r["late_refused"], r["late_delivered"],
                                              r["late_gates"], r["alice_stranger"]))

            check(r["pair_items"] == ("both", "both"), "alice and bob are mutual contacts before the wave")
            check(r["before"] == (1, 1), "the pair chats both ways before the wave")
            # 10 of burst, plus what 10/min refills while the wave lasts.
            allowed = BURST + int(RATE * r["wave_secs"] / 60.0) + 1
            check(r["delivered"] <= allowed,
                  "at most %d invitations of the wave delivered (%d)" % (allowed, r["delivered"]))
            check(r["delivered"] >= BURST - 1,  # alice's own invitation to bob took one token
                  "the burst itself gets through (%d)" % r["delivered"])
            check(r["delivered"] + r["refused"] == r["sent"],
                  "every invitation delivered or refused back over s2s (%d + %d of %d)"
                  % (r["delivered"], r["refused"], r["sent"]))
            check(set(r["conditions"]) <= {"resource-constraint", "policy-violation"},
                  "refusals are resource-constraint or policy-violation (%s)" % r["conditions"])
            check(r["store"] == "quarantine", "the store has a.test quarantined (%s)" % r["store"])
            news = [n for _, n in r["audit"]]
            check("throttle" in news and news.index("throttle") < news.index("quarantine"),
                  "a.test went through throttle before quarantine (%s)" % r["audit"])
            check(r["pushed"] and r["pushed"][-1] == "quarantine",
                  "the quarantine reached mod_floodgate on b.test (%s)" % r["pushed"])
            check(r["during_ab"] == r["during_sent"][0] and r["during_ba"] == r["during_sent"][1],
                  "the pair kept chatting both ways during the wave (%d/%d, %d/%d)"
                  % (r["during_ab"], r["during_sent"][0], r["during_ba"], r["during_sent"][1]))
            check(r["after_ab"] == 5 and r["after_ba"] == 5,
                  "and after it (%d/5, %d/5)" % (r["after_ab"], r["after_ba"]))
            check(not r["pair_errors"], "no errors between the pair (%s)" % r["pair_errors"])
            check(r["late_refused"] == ["policy-violation"] * LATE and r["late_delivered"] == 0,
                  "later invitations from a.test refused with policy-violation (%s)" % r["late_refused"])
            check(r["late_gates"] == 0,
                  "refused by mod_floodgate from its cache, without asking floodgated (%g gates)"
                  % r["late_gates"])
            check(r["alice_stranger"] == (["policy-violation"], []),
                  "alice's message to a stranger on b.test refused (%s)" % (r["alice_stranger"],))
        except BaseException:
            for s in (a, b):
                s.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            b.stop()
            a.stop()
    print("PASS test_federation")


if __name__ == "__main__":
    main()
