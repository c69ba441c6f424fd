# SPDX-License-Identifier: ISC
"""Scenario B, shared by the federation tests: an invitation
wave over real s2s from domain a to domain b, where b runs mod_floodgate
with floodgated attached (domain.inbound-subscribe = RATE/min burst
BURST), while an established cross-domain pair keeps chatting.

    accounts_a(), accounts_b()      who to register on each side
    r = {}; run(scenario(a, b, fg, pushed, r), timeout=...)
    settle_store(fg, a.domain, r)   the daemon's verdict and audit of a
    report_and_check(r, a, b)       print the figures, then check them

pushed(b) lists the verdicts for a's domain that b's module logged, in
order (each server logs them its own way).
"""
import asyncio
import sqlite3
import time

from . import check
from .client import connect, connect_many, disconnect_all, wait_until

SPAMMERS = 30
PER_SPAMMER = 2
TARGETS = 30
BURST = 10
RATE = 10  # per minute
LATE = 5   # invitations after the quarantine reached b

LIMITS = {"domain.inbound-subscribe": "%d/min burst %d" % (RATE, BURST)}


def accounts_a():
    return ["alice"] + ["s%02d" % i for i in range(SPAMMERS)]


def accounts_b():
    return (["bob", "carol"] + ["t%02d" % i for i in range(TARGETS)]
            + ["u%02d" % i for i in range(LATE)])


def got_from(client, sender):
    return [b for f, b in client.messages if f == sender]


def tagged(client, sender, tag):
    return [x for x in got_from(client, sender) if x.startswith(tag)]


def store_verdicts(db, domain):
    """(subjects verdict of domain or None, its audit transitions)."""
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=2)
        try:
            row = con.execute("SELECT verdict FROM subjects WHERE type='domain' AND key=?",
                              (domain,)).fetchone()
            audit = con.execute("SELECT old, new FROM audit WHERE type='domain' AND key=? "
                                "ORDER BY at, id", (domain,)).fetchall()
        finally:
            con.close()
        return (row[0] if row else None), audit
    except sqlite3.Error as e:
        return "error: %s" % e, []


def settle_store(fg, domain, r, timeout=5.0):
    """The store's verdict and audit of domain into r, once written."""
    verdict, audit = store_verdicts(fg.db, domain)
    end = time.monotonic() + timeout
    while verdict != "quarantine" and time.monotonic() < end:
        time.sleep(0.2)
        verdict, audit = store_verdicts(fg.db, domain)
    r["store"], r["audit"] = verdict, audit


async def scenario(a, b, fg, pushed, r):
    da, db = a.domain, b.domain
    alice_jid, bob_jid = "alice@" + da, "bob@" + db
    spam_users = ["s%02d" % i for i in range(SPAMMERS)]
    target_users = ["t%02d" % i for i in range(TARGETS)]
    alice = await connect(a, "alice", "pw")
    bob = await connect(b, "bob", "pw")
    carol = await connect(b, "carol", "pw")  # a stranger to everyone on a
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

    def pair_items():
        return (alice.client_roster[bob_jid]["subscription"],
                bob.client_roster[alice_jid]["subscription"])

    try:
        # -- the established pair, before the wave ----------------------
        # The first stanza opens the s2s links (both ways, for a dialback
        # check), so it may take a moment.
        t0 = time.monotonic()
        alice.subscribe(bob_jid)
        await wait_until(lambda: alice_jid in bob.subscriptions, 20)
        r["first_s2s"] = time.monotonic() - t0
        bob.approve(alice_jid)
        bob.subscribe(alice_jid)
        await wait_until(lambda: bob_jid in alice.subscriptions, 20)
        alice.approve(bob_jid)
        await wait_until(lambda: pair_items() == ("both", "both"), 10)
        r["pair_items"] = pair_items()
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

        await wait_until(lambda: delivered() + refused() >= sent, 30)
        r["wave_secs"] = time.monotonic() - t0
        # Anything still on its way (a late duplicate, a chat line) lands
        # within this; the counts below must not grow after it.
        await asyncio.sleep(1.0)
        r["delivered"], r["refused"] = delivered(), refused()
        conds = {}
        for s in spammers:
            for e in s.errors:
                conds[e[2]] = conds.get(e[2], 0) + 1
        r["conditions"] = conds
        r["texts"] = sorted({e[3] for s in spammers for e in s.errors})
        r["during_sent"] = (chat["ab"] - 1, chat["ba"] - 1)
        await wait_until(lambda: len(tagged(bob, alice_jid, "during")) >= r["during_sent"][0]
                         and len(tagged(alice, bob_jid, "during")) >= r["during_sent"][1], 10)
        r["during_ab"] = len(tagged(bob, alice_jid, "during"))
        r["during_ba"] = len(tagged(alice, bob_jid, "during"))
        r["wave_gates"] = fg.metric("floodgate_gates_total") - gates0

        # -- the quarantine, as pushed to b ---------------------------------
        t0 = time.monotonic()
        await wait_until(lambda: pushed(b) and pushed(b)[-1] == "quarantine", 15)
        r["pushed"], r["push_wait"] = pushed(b), time.monotonic() - t0

        # -- after: cached enforcement, no questions asked ------------------
        await asyncio.sleep(1.5)  # meter batches of the chat land first
        gates1 = fg.metric("floodgate_gates_total")
        errs0 = [len(s.errors) for s in spammers]
        d0 = delivered()
        late_to = ["u%02d" % i for i in range(LATE)]
        late = await connect_many(b, late_to)
        clients += late
        t0 = time.monotonic()
        for i, u in enumerate(late_to):
            spammers[i].subscribe("%s@%s" % (u, db))
        nerr_alice = len(alice.errors)
        alice.message("carol@" + db, "hi stranger")
        for _ in range(5):
            say("ab", "after")
            say("ba", "after")
        await wait_until(lambda: sum(len(s.errors) for s in spammers) - sum(errs0) >= LATE
                         and len(alice.errors) > nerr_alice, 15)
        await wait_until(lambda: len(tagged(bob, alice_jid, "after")) >= 5
                         and len(tagged(alice, bob_jid, "after")) >= 5, 10)
        r["late_secs"] = time.monotonic() - t0
        await asyncio.sleep(1.0)  # a late delivery or gate would show by now
        r["late_refused"] = [e[2] for i, s in enumerate(spammers) for e in s.errors[errs0[i]:]]
        r["late_delivered"] = sum(1 for c in late for j in c.subscriptions if j.endswith("@" + da)) + \
            (delivered() - d0)
        r["late_gates"] = fg.metric("floodgate_gates_total") - gates1
        r["alice_stranger"] = ([e[2] for e in alice.errors[nerr_alice:]], got_from(carol, alice_jid))
        r["after_ab"] = len(tagged(bob, alice_jid, "after"))
        r["after_ba"] = len(tagged(alice, bob_jid, "after"))
        r["pair_errors"] = [e for e in alice.errors + bob.errors if e[1] in (alice_jid, bob_jid)]

        # A spammer whose invitation got through, to a target who never
        # answered: a request from the sender alone makes no contact, so
        # its message and its repeated invitation are refused from the
        # cache too.
        ps, pt = next(((s, t) for t in targets for s in spammers
                       if s.boundjid.bare in t.subscriptions), (None, None))
        if ps is None:
            r["pending"] = "no delivered invitation to try"
            return
        gates2, nerr = fg.metric("floodgate_gates_total"), len(ps.errors)
        ps.message(pt.boundjid.bare, "buy now")
        ps.subscribe(pt.boundjid.bare)
        await wait_until(lambda: len(ps.errors) >= nerr + 2, 10)
        await asyncio.sleep(0.5)  # a delivery would show by now
        r["pending"] = (sorted(e[2] for e in ps.errors[nerr:]),
                        got_from(pt, ps.boundjid.bare),
                        fg.metric("floodgate_gates_total") - gates2)
    finally:
        await disconnect_all(clients)


def report_and_check(r, a, b):
    da, db = a.domain, b.domain
    print("measured: first s2s stanza in %.2f s; pair %s/%s; %d invitations from %d %s "
          "accounts sent in %.2f s, settled in %.2f s; delivered %d, refused %d %s; "
          "%g gates asked"
          % ((r["first_s2s"],) + r["pair_items"]
             + (r["sent"], SPAMMERS, da, r["sent_in"], r["wave_secs"], r["delivered"],
                r["refused"], r["conditions"], r["wave_gates"])))
    print("refusal texts: %s" % r["texts"])
    print("pushed to %s: %s (%.2f s after the wave settled); store: %s; audit: %s"
          % (db, r["pushed"], r["push_wait"], r["store"], r["audit"]))
    print("chat during the wave: a->b %d/%d, b->a %d/%d; after: %d/5, %d/5"
          % (r["during_ab"], r["during_sent"][0], r["during_ba"], r["during_sent"][1],
             r["after_ab"], r["after_ba"]))
    print("after the quarantine: %d invitations -> refused %s, delivered %d, gates asked %g "
          "(%.2f s); alice to a stranger: %s"
          % (LATE, r["late_refused"], r["late_delivered"], r["late_gates"], r["late_secs"],
             r["alice_stranger"]))
    print("a spammer to a target holding its unanswered invitation: refused %s, delivered %s, "
          "gates asked %s" % (r["pending"] if isinstance(r["pending"], tuple) else (r["pending"],) * 3))

    check(r["pair_items"] == ("both", "both"), "alice and bob are mutual contacts before the wave")
    check(r["before"] == (1, 1), "the pair chats both ways before the wave")
    # the burst, plus what the rate refills while the wave lasts
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
    check(r["store"] == "quarantine", "the store has %s quarantined (%s)" % (da, r["store"]))
    news = [n for _, n in r["audit"]]
    check("throttle" in news and "quarantine" in news
          and news.index("throttle") < news.index("quarantine"),
          "%s went through throttle before quarantine (%s)" % (da, r["audit"]))
    check(r["pushed"] and r["pushed"][-1] == "quarantine",
          "the quarantine reached mod_floodgate on %s (%s)" % (db, r["pushed"]))
    check(r["during_ab"] == r["during_sent"][0] and r["during_ba"] == r["during_sent"][1],
          "the pair kept chatting both ways during the wave (%d/%d, %d/%d)"
          % (r["during_ab"], r["during_sent"][0], r["during_ba"], r["during_sent"][1]))
    check(r["after_ab"] == 5 and r["after_ba"] == 5,
          "and after it (%d/5, %d/5)" % (r["after_ab"], r["after_ba"]))
    check(not r["pair_errors"], "no errors between the pair (%s)" % r["pair_errors"])
    check(r["late_refused"] == ["policy-violation"] * LATE and r["late_delivered"] == 0,
          "later invitations from %s refused with policy-violation (%s)" % (da, r["late_refused"]))
    check(r["late_gates"] == 0,
          "refused by mod_floodgate from its cache, without asking floodgated (%g gates)"
          % r["late_gates"])
    check(r["pending"] == (["policy-violation"] * 2, [], 0),
          "a spammer's message and repeated invitation to a target holding its unanswered "
          "invitation refused from the cache, no gate (%s)" % (r["pending"],))
    check(r["alice_stranger"] == (["policy-violation"], []),
          "alice's message to a stranger on %s refused (%s)" % (db, r["alice_stranger"]))
