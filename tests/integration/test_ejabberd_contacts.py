#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""mod_floodgate's contact cache on ejabberd 23.01, with the real floodgated.

Messages between contacts are only counted (one meter event per pair with
count=), and "A and B are contacts" is cached for a few seconds so that
the roster is not read for every message.  Checked here, all on one vhost:
  - contact messages are metered with the right counts (read from the
    module's debug line for each meter batch it sends), not gated, and
    the roster is read once per pair (the module's contact_lookup
    counter, read over Erlang distribution);
  - a contact removed from the roster (roster IQ, subscription='remove')
    is a stranger at once, both ways: the next messages are gated
    (floodgate_gates_total), although the pair was cached a moment ago;
  - the same after unsubscribe + unsubscribed presences;
  - a stranger who becomes a contact is a contact at once: its next
    message is not gated (only "is a contact" is ever cached);
  - counts stay exact across flushes: two streams of messages, both ways,
    counted while the module flushes its counters several times, add up
    to what was sent (nothing lost or sent twice at a flush);
  - a pair idle for longer than the module keeps its meter counter
    (METER_IDLE) is counted exactly again when it resumes.
Exit 0 on pass, 1 on failure, 77 when the floodgated binary or ejabberd
is missing.
"""
import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect, disconnect_all, run, wait_until  # noqa: E402
from fgtest.ejabberd import ERL, EjabberdServer, available  # noqa: E402
from fgtest.ports import LOOPBACK  # noqa: E402

METER_IDLE = 12  # s: the module's ?METER_IDLE (CONTACT_TTL 10 s + 2 flushes)
GRACE = 2.5      # s: > the module's CONTACT_FORGET_GRACE (2 s) after a
                 # subscription change, so the pairs are cached again
FLUSH = 1.5      # s: > the module's meter flush interval (1 s)
N_AB, N_BA, N_AC = 25, 7, 5
STREAM_S, STREAM_BURST = 3.5, 20  # s of streaming, messages a burst (every 50 ms)
STREAM_MAX_S = 15  # s: longest stream when sampling is slow


def module_stat(srv, name):
    """A counter of mod_floodgate_srv (its stats/1), read over Erlang
    distribution the way fgtest's control client reaches the node."""
    script = ("L = rpc:call('%s', mod_floodgate_srv, stats, [<<\"%s\">>], 10000), "
              "io:format(\"~p~n\", [proplists:get_value({stat, %s}, L, 0)]), halt()."
              % (srv.node, srv.domain, name))
    cmd = [ERL, "-name", "t%s@%s" % (secrets.token_hex(4), LOOPBACK)] + srv._dist_args() + [
        "-dist_listen", "false", "-hidden", "-noinput", "-eval", script]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=srv.env(),
                       cwd=srv.spool)
    try:
        return int(r.stdout.split()[-1])
    except (IndexError, ValueError):
        raise RuntimeError("reading %s from the node failed: %s%s" % (name, r.stdout, r.stderr))


def metered(srv, since, batches=None):
    """{(from, to): messages} from the message events in the meter batches
    the module logged (at debug) after log offset since; with a dict
    batches, also {(from, to): batches that carried the pair}."""
    out = {}
    for m in re.finditer(r"floodgate: sending \d+ meter event\(s\) to \S+: (.*)",
                         srv.log_text()[since:]):
        for ev in re.finditer(r"<event ([^>]*)/>", m.group(1)):
            a = dict(re.findall(r"(\w+)='([^']*)'", ev.group(1)))
            if a.get("type") == "message":
                k = (a["from"], a["to"])
                out[k] = out.get(k, 0) + int(a.get("count", "1"))
                if batches is not None:
                    batches[k] = batches.get(k, 0) + 1
    return out


def received(client, sender):
    return sum(1 for f, _ in client.messages if f == sender)


async def befriend(x, y):
    """Mutual subscription between two online clients, one direction after
    the other: done at once, the two roster pushes for one item can reach
    the client in the wrong order (ejabberd sends them from two processes)."""
    jx, jy = x.boundjid.bare, y.boundjid.bare
    for a, b, ja, jb, want in ((x, y, jx, jy, "to"), (y, x, jy, jx, "both")):
        a.subscribe(jb)
        await wait_until(lambda: ja in b.subscriptions, 5)
        b.approve(ja)
        ok = await wait_until(lambda: a.client_roster[jb]["subscription"] == want, 5)
    ok = ok and await wait_until(lambda: x.client_roster[jy]["subscription"] == "both", 5)
    check(ok, "%s and %s are mutual contacts" % (jx, jy))


async def send_and_wait(sender, receiver, n, text):
    want = received(receiver, sender.boundjid.bare) + n
    for i in range(n):
        sender.message(receiver.boundjid.bare, "%s %d" % (text, i))
    ok = await wait_until(lambda: received(receiver, sender.boundjid.bare) >= want, 10)
    check(ok and not sender.errors, "%d message(s) %s -> %s delivered"
          % (n, sender.boundjid.user, receiver.boundjid.user))


async def scenario(srv, fg):
    alice, bob, carol, dave = clients = [await connect(srv, u, "pw")
                                         for u in ("alice", "bob", "carol", "dave")]
    ja, jb, jc, jd = (c.boundjid.bare for c in clients)
    gates = lambda: fg.metric("floodgate_gates_total")  # noqa: E731
    try:
        await befriend(alice, bob)
        await befriend(alice, carol)
        await asyncio.sleep(GRACE)

        # 1. Contact messages: counted per pair with the right counts, not
        # gated, and the roster read once per pair (sender, recipient).
        await asyncio.sleep(FLUSH)
        mark = len(srv.log_text())
        l0, g0 = module_stat(srv, "contact_lookup"), gates()
        await asyncio.gather(send_and_wait(alice, bob, N_AB, "hi bob"),
                             send_and_wait(bob, alice, N_BA, "hi alice"),
                             send_and_wait(alice, carol, N_AC, "hi carol"))
        await asyncio.sleep(FLUSH)
        got = metered(srv, mark)
        l1 = module_stat(srv, "contact_lookup")
        lookups = l1 - l0
        print("metered: %s; roster lookups %d; gates %d"
              % (got, lookups, gates() - g0))
        check(got.get((ja, jb)) == N_AB and got.get((jb, ja)) == N_BA
              and got.get((ja, jc)) == N_AC and len(got) == 3,
              "messages to contacts metered with their counts (%d, %d, %d)"
              % (N_AB, N_BA, N_AC))
        check(gates() == g0, "no message between contacts was gated")
        check(lookups == 3, "the roster was read once per pair, not per message "
              "(%d lookups for %d messages)" % (lookups, N_AB + N_BA + N_AC))

        # 2. Roster removal: bob removes alice. Both pairs are cached (and
        # refreshed just now); the next messages both ways are gated.
        await send_and_wait(alice, bob, 1, "still friends?")
        await send_and_wait(bob, alice, 1, "sure")
        check(module_stat(srv, "contact_lookup") == l1,
              "both pairs were still cached right before the removal")
        g0 = gates()
        r = await bob.iq("<iq type='set'><query xmlns='jabber:iq:roster'>"
                         "<item jid='%s' subscription='remove'/></query></iq>" % ja)
        check(r is not None and r["type"] == "result", "bob removed alice from his roster")
        await send_and_wait(alice, bob, 1, "hello?")
        await send_and_wait(bob, alice, 1, "who are you?")
        print("after the roster removal: gates %d" % (gates() - g0))
        check(gates() - g0 == 2, "a contact removed from the roster is a stranger at once, "
              "both ways (2 gated messages)")

        # 3. Unsubscribe + unsubscribed: carol ends both subscriptions.
        # Past the grace of bob's change to alice's roster, both pairs are
        # cached again: the second exchange reads no roster.
        await asyncio.sleep(GRACE)
        await send_and_wait(alice, carol, 1, "still there?")
        await send_and_wait(carol, alice, 1, "yes")
        l0 = module_stat(srv, "contact_lookup")
        await send_and_wait(alice, carol, 1, "good")
        await send_and_wait(carol, alice, 1, "indeed")
        check(module_stat(srv, "contact_lookup") == l0,
              "alice/carol cached both ways before the unsubscription")
        g0 = gates()
        carol.send_presence(pto=ja, ptype="unsubscribe")
        carol.send_presence(pto=ja, ptype="unsubscribed")
        await send_and_wait(carol, alice, 1, "bye")
        ok = await wait_until(lambda: alice.client_roster[jc]["subscription"] == "none", 5)
        check(ok, "alice's roster shows no subscription with carol")
        await send_and_wait(alice, carol, 1, "why?")
        print("after unsubscribe/unsubscribed: gates %d" % (gates() - g0))
        check(gates() - g0 == 2, "after unsubscribe + unsubscribed both are strangers "
              "at once (2 gated messages)")

        # 4. A stranger who becomes a contact is one at once.
        g0 = gates()
        await send_and_wait(alice, dave, 1, "do I know you?")
        check(gates() - g0 == 1, "a message to a stranger is gated")
        dave.subscribe(ja)
        check(await wait_until(lambda: jd in alice.subscriptions, 5),
              "dave's invitation reached alice")
        g0 = gates()
        alice.approve(jd)              # same stream: handled before the message
        await send_and_wait(alice, dave, 1, "now you are a contact")
        check(await wait_until(lambda: dave.client_roster[ja]["subscription"] == "to", 5),
              "dave is subscribed to alice")
        await send_and_wait(dave, alice, 1, "thanks")
        print("new contact: gates %d" % (gates() - g0))
        check(gates() == g0, "a new contact is a contact at once, both ways (no gate)")

        # 5. Exact counts across flushes: alice and dave stream at each
        # other for longer than several flush intervals, so messages are
        # counted while the module takes and resets its counters.  Too
        # many for the debug log (ejabberd drops lines beyond its burst
        # limit), so the module's contact_messages stat is summed instead.
        await asyncio.sleep(GRACE)
        await send_and_wait(alice, dave, 1, "cache us")
        await send_and_wait(dave, alice, 1, "cache us too")
        await asyncio.sleep(FLUSH)
        g0, l0 = gates(), module_stat(srv, "contact_lookup")
        c0 = module_stat(srv, "contact_messages")
        want = {(ja, jd): received(dave, ja), (jd, ja): received(alice, jd)}
        sent = {(ja, jd): 0, (jd, ja): 0}
        seen = []      # contact_messages read during the streams
        t0 = time.monotonic()
        # each sample starts an Erlang node, which takes seconds on a busy
        # machine: stream on (up to STREAM_MAX_S) until two partial
        # counts were seen, so the check below is about flushes, not load
        while (time.monotonic() - t0 < STREAM_S or
               (len(set(x for x in seen if x > 0)) < 3 and
                time.monotonic() - t0 < STREAM_MAX_S)):
            for x, y, k in ((alice, dave, (ja, jd)), (dave, alice, (jd, ja))):
                for i in range(STREAM_BURST):
                    x.message(y.boundjid.bare, "stream %d" % sent[k])
                    sent[k] += 1
            await asyncio.sleep(0.05)
            if time.monotonic() - t0 > 1.2 * (len(seen) + 1):
                seen.append(module_stat(srv, "contact_messages") - c0)
        for k in want:
            want[k] += sent[k]
        ok = await wait_until(lambda: received(dave, ja) >= want[(ja, jd)]
                              and received(alice, jd) >= want[(jd, ja)], 30)
        check(ok and not alice.errors and not dave.errors,
              "streamed %d + %d messages delivered" % (sent[(ja, jd)], sent[(jd, ja)]))
        await asyncio.sleep(FLUSH)
        total = module_stat(srv, "contact_messages") - c0
        print("streamed: sent %s; metered %d in all, %s read while streaming"
              % (sent, total, seen))
        check(total == sum(sent.values()),
              "counts across flushes add up exactly to the messages sent")
        check(len(set(x for x in seen if 0 < x < total)) >= 2,
              "the streams spanned several flushes")
        check(module_stat(srv, "contact_lookup") == l0, "no roster read while streaming")
        check(gates() == g0, "no streamed message was gated")

        # 6. After METER_IDLE without a message the pair's counter is
        # gone (and so are the senders' cached contacts): counted exactly
        # again from scratch.
        i0 = module_stat(srv, "meter_pairs_idle")
        await asyncio.sleep(METER_IDLE + 2 * FLUSH)
        check(module_stat(srv, "meter_pairs_idle") - i0 >= 2,
              "alice/dave's meter counters were dropped as idle")
        c0 = module_stat(srv, "contact_messages")
        await asyncio.gather(send_and_wait(alice, dave, 4, "back again"),
                             send_and_wait(dave, alice, 3, "welcome back"))
        await asyncio.sleep(FLUSH)
        total = module_stat(srv, "contact_messages") - c0
        print("after %ds idle: metered %d" % (METER_IDLE + 2 * FLUSH, total))
        check(total == 7, "an idle pair is counted exactly when it resumes (7 messages)")
    finally:
        await disconnect_all(clients)


def main():
    if not daemon.available():
        skip("floodgated not built (%s)" % daemon.binary())
    if not available():
        skip("ejabberd 23.01 not installed")
    with Workdir("ejabberd-contacts") as wd:
        # debug: the module logs each meter batch it sends
        srv = EjabberdServer(os.path.join(wd, "ejabberd"), log_level="debug")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv, limits={
            "account.stranger-message": "off", "account.subscribe": "off",
            "account.message": "off"})
        try:
            t = time.monotonic()
            srv.start()
            print("ejabberd %s up with mod_floodgate in %.1fs" % (srv.node, time.monotonic() - t))
            srv.register_many((u, "pw") for u in ("alice", "bob", "carol", "dave"))
            fg.start()
            check(srv.wait_log("verdict cache for %s loaded" % srv.domain, timeout=15),
                  "mod_floodgate fetched the verdict set from floodgated")
            run(scenario(srv, fg), timeout=180)
        except BaseException:
            traceback.print_exc()
            srv.dump_log(60)
            fg.dump_log(60)
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
