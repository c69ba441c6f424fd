#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""[actions] quarantine = drop, enforced by mod_floodgate over real s2s.

a.test runs mod_floodgate with floodgated configured to drop what a
quarantine refuses; b.test is a stock peer. The daemon pushes its
quarantine entries with action='drop' (doc/PROTOCOL.md, section 3), and
the module discards the refused stanzas without an error:

- b.test quarantined: grace@b.test's message to alice (a stranger)
  vanishes, grace gets no error, while carol@b.test, bob's contact, still
  reaches bob;
- mallory@a.test quarantined: her message to alice (a stranger) vanishes
  without an error, her message to bob (a contact) is delivered;
- the clients' address quarantined (an entry the module does not enforce
  on messages): oscar's message to alice is gated, the daemon denies it
  with <deny action='drop'/>, and it vanishes without an error.

A ping over the same stream after each dropped stanza proves the server
has handled it (stanzas of one stream are processed in order).

Exit 0 on pass, 77 when floodgated or floodgatectl is not built or the
daemon has no [actions] section.
"""
import asyncio
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.federation import federated_pair  # noqa: E402
from test_prosody_remote import ctl, ctl_binary  # noqa: E402

# Neither test_federation's nor test_prosody_remote's addresses.
A, B = ("a.test", "127.0.0.14"), ("b.test", "127.0.0.15")
USERS_A = ["alice", "bob", "mallory", "oscar"]
USERS_B = ["carol", "grace"]


def jid(user):
    return "%s@%s" % (user, A[0] if user in USERS_A else B[0])


async def verdict(a, subject, verdict, timeout=5):
    rx = re.compile(r"Verdict \w+ %s: (\w+ \(.*)" % re.escape(subject))

    def last():
        got = rx.findall(a.log_text())
        return got and got[-1].startswith(verdict + " ") and got[-1]
    line = await wait_until(last, timeout)
    check(line and line.endswith(", dropped silently"),
          "a.test's module holds %s: %s, to drop (%s)" % (subject, verdict, line))


async def send_and_ping(c, sender, to, body, ping_to):
    """sender messages to, then pings ping_to over the same stream; the
    errors sender got meanwhile, and whether to got the message."""
    s, r = c[sender], c[to]
    nerr = len(s.errors)
    s.message(jid(to), body)
    await s.ping(ping_to)
    await asyncio.sleep(0.3)
    return (jid(sender), body) in r.messages, [e[2] for e in s.errors[nerr:]]


async def contacts(c, u1, u2):
    c[u1].subscribe(jid(u2))
    await wait_until(lambda: jid(u1) in c[u2].subscriptions, 5)
    c[u2].approve(jid(u1))
    c[u2].subscribe(jid(u1))
    await wait_until(lambda: jid(u2) in c[u1].subscriptions, 5)
    c[u1].approve(jid(u2))
    await asyncio.sleep(0.5)


async def scenario(a, b, fg):
    clients = await connect_many(a, USERS_A) + await connect_many(b, USERS_B)
    c = dict(zip(USERS_A + USERS_B, clients))
    try:
        await contacts(c, "bob", "carol")
        await contacts(c, "bob", "mallory")

        ctl(fg, "quarantine", "b.test", "stranger spam")
        await verdict(a, "b.test", "quarantine")
        got, errs = await send_and_ping(c, "grace", "alice", "buy now", A[0])
        check(not got and errs == [],
              "grace's message to alice vanished without an error (%s)" % errs)
        got, errs = await send_and_ping(c, "carol", "bob", "hi bob", A[0])
        check(got and errs == [], "carol, bob's contact, still reaches bob")

        ctl(fg, "quarantine", "mallory@a.test", "local spammer")
        await verdict(a, "mallory@a.test", "quarantine")
        got, errs = await send_and_ping(c, "mallory", "alice", "cheap pills", A[0])
        check(not got and errs == [],
              "mallory's message to alice vanished without an error (%s)" % errs)
        got, errs = await send_and_ping(c, "mallory", "bob", "hi bob", A[0])
        check(got and errs == [], "mallory's message to bob, a contact, is delivered")

        # last: every local client connects from this address
        ctl(fg, "quarantine", "127.0.0.1", "local network")
        await verdict(a, "127.0.0.1", "quarantine")
        got, errs = await send_and_ping(c, "oscar", "alice", "hello there", A[0])
        log = a.log_text()
        gated = re.search(r"Gate query to \S+: .*from='oscar@a\.test'", log)
        dropped = re.search(r"Dropped message from oscar@a\.test\S* to alice@a\.test", log)
        check(not got and errs == [] and gated and dropped,
              "oscar's message, denied by the gate with action drop, vanished without an "
              "error (errors %s, gated %s, dropped %s)" % (errs, bool(gated), bool(dropped)))
    finally:
        await disconnect_all(clients)


def supports_actions(fg):
    r = subprocess.run([daemon.binary(), "-n", "-c", fg.config], capture_output=True,
                       text=True, timeout=30)
    out = r.stdout + r.stderr
    print("floodgated -n: %d %s" % (r.returncode, out.strip()))
    return "unknown section [actions]" not in out


def main():
    if not daemon.available() or not os.access(ctl_binary(), os.X_OK):
        skip("floodgated or floodgatectl not built")
    with Workdir("prosody-drop") as wd:
        a, b = federated_pair(wd, A, B, floodgate_on=(A[0],))
        fg = daemon.Floodgated(os.path.join(wd, "fg"), a, sections={
            "control": {"socket": os.path.join(wd, "fg", "ctl.sock")},
            "actions": {"quarantine": "drop"}})
        supported = supports_actions(fg)
        if supported:
            try:
                a.start()
                b.start()
                a.register_many([(u, "pw") for u in USERS_A])
                b.register_many([(u, "pw") for u in USERS_B])
                fg.start()
                run(scenario(a, b, fg), timeout=120)
            except BaseException:
                for s in (a, b):
                    s.dump_log()
                fg.dump_log()
                raise
            finally:
                fg.stop()
                b.stop()
                a.stop()
    if not supported:
        skip("this floodgated has no [actions] section")
    print("PASS test_prosody_drop")


if __name__ == "__main__":
    main()
