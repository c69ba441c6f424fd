#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Verdicts on remote accounts, enforced by mod_floodgate over real s2s.

Two Prosody servers federate on loopback: a.test runs mod_floodgate with
floodgated, b.test is a stock peer with a MUC service rooms.b.test. An
admin of a.test acts through floodgatectl; the module enforces what the
daemon pushes (doc/PROTOCOL.md, sections 3 and 4):

- a stranger's message from b.test is gated with hfp, the host
  fingerprints of its URLs, equal to SHA-256 prefixes computed here with
  hashlib from the host names the protocol's vectors name; a message
  linking to a subdomain of a host on the operator's url-hosts list is
  refused, the daemon matching only hfp; a message with a link to a
  contact goes as a meter event of its own, with the same hfp;
- dave@b.test blocked: his messages, subscription request and iq to a.test
  users are refused (even to bob, his contact), while carol@b.test keeps
  talking to alice;
- dave quarantined: his message to bob (a contact) flows, his message and
  subscription request to alice (a stranger) are refused;
- a mediated MUC invitation relayed by rooms.b.test, or by a.test's own
  rooms.a.test, is gated as a stranger message from the inviter: grace's
  goes through the gate, dave's (quarantined) is refused; so are their
  XEP-0249 direct invitations without a body (both invite from outside the room: Prosody
  names an occupant inviter by its occupant JID);
- b.test blocked, eve@b.test allowlisted: eve gets through, carol not;
- b.test quarantined: frank, whom alice wrote to first, gets his reply
  delivered (reply window), and so does ivan, to whom she sent directed
  presence; grace (a stranger) is refused;
- a drop action makes a refused message vanish without an error.

Exit 0 on pass, 77 when floodgated or floodgatectl is not built.
"""
import asyncio
import hashlib
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.federation import FederatedProsody, write_resolver  # noqa: E402

# Not test_federation's 127.0.0.2/3, so both can run at once.
A, B = ("a.test", "127.0.0.12"), ("b.test", "127.0.0.13")
ROOMS = "rooms.b.test"
ROOM = "lobby@" + ROOMS
LOCAL_ROOMS = "rooms.a.test"  # a.test's own MUC
LOCAL_ROOM = "lobby@" + LOCAL_ROOMS
MUC_USER = "http://jabber.org/protocol/muc#user"
CONFERENCE = "jabber:x:conference"  # XEP-0249 direct invitations
USERS_A = ["alice", "bob"]
USERS_B = ["dave", "carol", "eve", "frank", "grace", "henry", "ivan"]

# doc/PROTOCOL.md, "Host fingerprints": a body and the host names hashed.
HFP_BODY = "see https://x.Spam.example./a and www.shop.example"
HFP_NAMES = ["x.spam.example", "spam.example", "shop.example"]
# An operator's list of URL hosts ([lists] url-hosts), matched through hfp.
LISTED_HOST = "bad-links.example"


def hex16(name):
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class Peer(FederatedProsody):
    """b.test with a MUC component of its own."""

    def write_config(self):
        super().write_config()
        with open(self.config, "a") as f:
            f.write('\nComponent "%s" "muc"\n  muc_room_locking = false\n'
                    % (ROOMS if self.domain == B[0] else LOCAL_ROOMS))


def ctl_binary():
    return os.path.join(top_builddir(), "floodgatectl")


def ctl(fg, *args):
    r = subprocess.run([ctl_binary(), args[0], "-c", fg.config] + list(args[1:]),
                       capture_output=True, text=True, timeout=30)
    print("$ floodgatectl %s -> %d %s%s" % (" ".join(args), r.returncode, r.stdout.strip(),
                                             (" stderr: " + r.stderr.strip()) if r.stderr else ""))
    check(r.returncode == 0, "floodgatectl %s succeeds" % " ".join(args))
    return r


class Scene:
    def __init__(self, a, b, fg):
        self.a, self.b, self.fg = a, b, fg
        self.c = {}

    def jid(self, user):
        return "%s@%s" % (user, A[0] if user in USERS_A else B[0])

    async def verdict(self, subject, verdict, timeout=5):
        """Wait until a.test's module logged the verdict for subject."""
        rx = re.compile(r"Verdict \w+ %s: (\w+)" % re.escape(subject))

        def last():
            got = rx.findall(self.a.log_text())
            return got and got[-1] == verdict
        ok = await wait_until(last, timeout)
        check(ok, "a.test's module holds %s: %s" % (subject, verdict))

    async def exchange(self, sender, to, body, timeout=4):
        """sender messages to; (delivered, [error conditions sender got])."""
        s, r = self.c[sender], self.c[to]
        nerr = len(s.errors)
        s.message(self.jid(to), body)
        await wait_until(lambda: (self.jid(sender), body) in r.messages
                         or len(s.errors) > nerr, timeout)
        await asyncio.sleep(0.2)
        return (self.jid(sender), body) in r.messages, [e[2] for e in s.errors[nerr:]]

    async def subscribe(self, sender, to, timeout=4):
        s, r = self.c[sender], self.c[to]
        nerr = len(s.errors)
        s.subscribe(self.jid(to))
        await wait_until(lambda: self.jid(sender) in r.subscriptions or len(s.errors) > nerr,
                         timeout)
        await asyncio.sleep(0.2)
        return self.jid(sender) in r.subscriptions, [e[2] for e in s.errors[nerr:]]

    async def join(self, user, room=ROOM):
        c = self.c[user]
        p = c.make_presence(pto="%s/%s" % (room, user))
        p.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        p.send()
        await asyncio.sleep(0.5)

    def invite(self, user, to, reason, room=ROOM):
        msg = self.c[user].make_message(mto=room)
        x = ET.SubElement(msg.xml, "{%s}x" % MUC_USER)
        inv = ET.SubElement(x, "{%s}invite" % MUC_USER, to=self.jid(to))
        ET.SubElement(inv, "{%s}reason" % MUC_USER).text = reason
        msg.send()

    def direct_invite(self, user, to, reason):
        """A XEP-0249 invitation without a body."""
        msg = self.c[user].make_message(mto=self.jid(to))
        ET.SubElement(msg.xml, "{%s}x" % CONFERENCE, jid=ROOM, reason=reason)
        msg.send()

    def direct_invited(self, to, reason):
        return [f for f, r in self.direct[to] if r == reason]

    def invited(self, to, reason, room=ROOM):
        return [b for f, b in self.c[to].messages if f == room and reason in b]


async def make_contacts(sc, u1, u2):
    c1, c2 = sc.c[u1], sc.c[u2]
    c1.subscribe(sc.jid(u2))
    await wait_until(lambda: sc.jid(u1) in c2.subscriptions, 5)
    c2.approve(sc.jid(u1))
    c2.subscribe(sc.jid(u1))
    await wait_until(lambda: sc.jid(u2) in c1.subscriptions, 5)
    c1.approve(sc.jid(u2))
    await asyncio.sleep(0.5)


async def scenario(sc):
    a, b, fg = sc.a, sc.b, sc.fg
    clients = await connect_many(a, USERS_A) + await connect_many(b, USERS_B)
    sc.c = dict(zip(USERS_A + USERS_B, clients))
    sc.direct = {u: [] for u in sc.c}
    for u, c in sc.c.items():
        # slixmpp's "message" event only fires for messages with a body
        def on_direct(msg, u=u):
            x = msg.xml.find("{%s}x" % CONFERENCE)
            if msg.xml.find("{jabber:client}body") is None:
                sc.direct[u].append((msg["from"].bare, x.get("reason")))
        c.register_handler(Callback("direct invitation", MatchXPath(
            "{jabber:client}message/{%s}x" % CONFERENCE), on_direct))
    try:
        await make_contacts(sc, "bob", "dave")

        # -- a stranger's message: gated, with hfp ---------------------------
        got, errs = await sc.exchange("carol", "alice", HFP_BODY)
        check(got and not errs, "carol's first message to alice is delivered (%s)" % errs)
        m = re.findall(r"Gate query to [^:]+: (<iq.*?kind='inbound-stranger-message'.*)",
                       a.log_text())
        q = [x for x in m if "from='carol@b.test'" in x]
        hfp = re.search(r"hfp='([^']*)'", q[-1]).group(1) if q else None
        want = " ".join(hex16(n) for n in HFP_NAMES)
        print("hfp sent: %s; hashlib over %s: %s" % (hfp, HFP_NAMES, want))
        check(hfp == want, "the gate's hfp is the SHA-256 prefixes of the URL hosts")
        got, errs = await sc.exchange("henry", "alice",
                                      "cheap https://Promo.%s/x today" % LISTED_HOST.upper())
        check(not got and errs == ["policy-violation"],
              "a stranger message linking to a subdomain of a listed host is refused "
              "(the daemon saw only hfp) (%s)" % errs)

        # -- a message to a contact with a link: its own meter event, hfp --------
        got, errs = await sc.exchange("bob", "dave", "bob to a contact: " + HFP_BODY)
        check(got and not errs, "bob's message with a link to dave, a contact, is delivered")

        def meter_hfp():
            for ev in re.findall(r"<event [^>]*type='message'[^>]*>", a.log_text()):
                if "from='bob@a.test'" in ev and "to='dave@b.test'" in ev:
                    m = re.search(r"hfp='([^']*)'", ev)
                    if m:
                        return m.group(1)
        mh = await wait_until(meter_hfp, 3)
        check(mh == want, "the meter event of a contact message with a link carries hfp (%s)" % mh)

        # -- dave blocked ----------------------------------------------------
        ctl(fg, "block", "dave@b.test", "spam from a public server")
        await sc.verdict("dave@b.test", "block")
        got, errs = await sc.exchange("dave", "alice", "buy now")
        check(not got and errs == ["policy-violation"],
              "blocked dave's message to alice is refused (%s)" % errs)
        text = sc.c["dave"].errors[-1][3]
        check("recipient server's anti-spam policy" in text and "admin" not in text,
              "the refusal names a.test's policy, not dave's admin (%r)" % text)
        got, errs = await sc.exchange("dave", "bob", "hi bob, it's dave")
        check(not got and errs == ["policy-violation"],
              "blocked dave's message to bob, a contact, is refused (%s)" % errs)
        got, errs = await sc.subscribe("dave", "alice")
        check(not got and errs == ["policy-violation"],
              "blocked dave's subscription request is refused (%s)" % errs)
        reply = await sc.c["dave"].iq("<iq type='get' to='alice@a.test'>"
                                      "<query xmlns='jabber:iq:version'/></iq>")
        cond = reply.xml.find("{jabber:client}error") if reply is not None else None
        check(reply is not None and reply["type"] == "error"
              and cond is not None and cond.find(
                  "{urn:ietf:params:xml:ns:xmpp-stanzas}policy-violation") is not None,
              "blocked dave's iq is refused with policy-violation")
        got, errs = await sc.exchange("carol", "alice", "carol again")
        check(got and not errs, "carol@b.test still talks to alice")

        # -- dave quarantined: contacts flow, strangers refused ---------------
        ctl(fg, "unblock", "dave@b.test")
        await sc.verdict("dave@b.test", "allow")
        ctl(fg, "quarantine", "dave@b.test", "unsolicited messages")
        await sc.verdict("dave@b.test", "quarantine")
        got, errs = await sc.exchange("dave", "bob", "hello contact")
        check(got and not errs, "quarantined dave's message to bob, a contact, is delivered")
        got, errs = await sc.exchange("dave", "alice", "hello stranger")
        check(not got and errs == ["policy-violation"],
              "quarantined dave's message to alice, a stranger, is refused (%s)" % errs)
        got, errs = await sc.subscribe("dave", "alice")
        check(not got and errs == ["policy-violation"],
              "quarantined dave's subscription request is refused (%s)" % errs)

        # -- mediated MUC invitations -------------------------------------------
        # carol holds the room; the inviters stay outside (an occupant's
        # invitation names its occupant JID, not its real one)
        await sc.join("carol")
        g0 = fg.metric("floodgate_gates_total")
        sc.invite("dave", "alice", "dave's party")
        sc.invite("grace", "alice", "grace's party")
        await wait_until(lambda: sc.invited("alice", "grace's party"), 5)
        await asyncio.sleep(0.3)
        check(sc.invited("alice", "grace's party") != [],
              "grace's invitation reaches alice after the gate")
        gq = [x for x in re.findall(r"Gate query to [^:]+: (<iq.*)", a.log_text())
              if "from='grace@b.test'" in x and "grace" in x]
        check(any("kind='inbound-stranger-message'" in x for x in gq),
              "the invitation is gated as a stranger message from grace, not the room")
        check(fg.metric("floodgate_gates_total") - g0 >= 1, "floodgated answered that gate")
        check(sc.invited("alice", "dave's party") == [],
              "quarantined dave's invitation, relayed by the room, is refused")
        # direct invitations without a body are judged like messages
        nerr = len(sc.c["dave"].errors)
        sc.direct_invite("dave", "alice", "dave's direct")
        sc.direct_invite("grace", "alice", "grace's direct")
        await wait_until(lambda: sc.direct_invited("alice", "grace's direct"), 5)
        await asyncio.sleep(0.3)
        check(sc.direct_invited("alice", "grace's direct") == ["grace@b.test"],
              "grace's bodiless direct invitation reaches alice after the gate (%s)"
              % sc.direct["alice"])
        check(sc.direct_invited("alice", "dave's direct") == []
              and [e[2] for e in sc.c["dave"].errors[nerr:]] == ["policy-violation"],
              "quarantined dave's bodiless direct invitation is refused")
        # the same through a room of a.test's own MUC
        await sc.join("bob", LOCAL_ROOM)
        sc.invite("dave", "alice", "dave's local party", LOCAL_ROOM)
        sc.invite("grace", "alice", "grace's local party", LOCAL_ROOM)
        await wait_until(lambda: sc.invited("alice", "grace's local party", LOCAL_ROOM), 5)
        await asyncio.sleep(0.3)
        check(sc.invited("alice", "grace's local party", LOCAL_ROOM) != [],
              "grace's invitation through a.test's own room reaches alice after the gate")
        check(sc.invited("alice", "dave's local party", LOCAL_ROOM) == [],
              "quarantined dave's invitation through a.test's own room is refused")

        # dave's own message dressed as an invitation from bob (no verdict)
        # is still dave's: a stranger message from a quarantined account
        msg = sc.c["dave"].make_message(mto=sc.jid("alice"), mbody="forged invitation")
        x = ET.SubElement(msg.xml, "{%s}x" % MUC_USER)
        ET.SubElement(x, "{%s}invite" % MUC_USER, {"from": sc.jid("bob")})
        nerr = len(sc.c["dave"].errors)
        msg.send()
        await wait_until(lambda: len(sc.c["dave"].errors) > nerr, 5)
        await asyncio.sleep(0.3)
        check([e[2] for e in sc.c["dave"].errors[nerr:]] == ["policy-violation"]
              and not [1 for f, b in sc.c["alice"].messages if b == "forged invitation"],
              "quarantined dave's message naming bob as inviter is refused as his own")

        # -- allowlist beats the domain's block -------------------------------
        ctl(fg, "unblock", "dave@b.test")
        ctl(fg, "block", "b.test", "whole domain")
        await sc.verdict("b.test", "block")
        ctl(fg, "allowlist", "eve@b.test")
        await sc.verdict("eve@b.test", "allowlist")
        got, errs = await sc.exchange("eve", "alice", "eve, allowlisted")
        check(got and not errs, "allowlisted eve of blocked b.test gets through")
        got, errs = await sc.exchange("carol", "alice", "carol, blocked domain")
        check(not got and errs == ["policy-violation"],
              "carol of blocked b.test is refused (%s)" % errs)

        # -- reply window under a domain quarantine ---------------------------
        ctl(fg, "unblock", "b.test")
        await sc.verdict("b.test", "allow")
        ctl(fg, "quarantine", "b.test", "stranger spam")
        await sc.verdict("b.test", "quarantine")
        got, errs = await sc.exchange("alice", "frank", "hi frank, alice here")
        check(got and not errs, "alice writes to frank@b.test first")
        got, errs = await sc.exchange("frank", "alice", "hi alice, frank replying")
        check(got and not errs, "frank's reply is delivered although b.test is quarantined")
        sc.c["alice"].send_presence(pto=sc.jid("ivan"))  # directed presence
        await asyncio.sleep(0.5)
        got, errs = await sc.exchange("ivan", "alice", "hi alice, saw you online")
        check(got and not errs, "ivan, to whom alice sent directed presence, reaches her")
        got, errs = await sc.exchange("grace", "alice", "hi alice, a stranger")
        check(not got and errs == ["policy-violation"],
              "grace, a stranger of quarantined b.test, is refused (%s)" % errs)
    finally:
        await disconnect_all(clients)


def main():
    if not daemon.available() or not os.access(ctl_binary(), os.X_OK):
        skip("floodgated or floodgatectl not built in %s" % top_builddir())
    with Workdir("prosody-remote") as wd:
        unbound = write_resolver(wd, [A, B])
        with open(unbound["hoststxt"], "a") as f:
            f.write("%s %s\n%s %s\n" % (B[1], ROOMS, A[1], LOCAL_ROOMS))
        a = Peer(os.path.join(wd, A[0]), A[0], A[1], unbound, floodgate=True)
        b = Peer(os.path.join(wd, B[0]), B[0], B[1], unbound)
        hosts = os.path.join(wd, "url-hosts.txt")
        with open(hosts, "w") as f:
            f.write("# operator's list\n%s\n" % LISTED_HOST)
        fg = daemon.Floodgated(os.path.join(wd, "fg"), a, sections={
            "control": {"socket": os.path.join(wd, "fg", "ctl.sock")},
            "limits": {"reply-window": "1d"},
            "lists": {"url-hosts": hosts}})
        try:
            a.start()
            b.start()
            a.register_many([(u, "pw") for u in USERS_A])
            b.register_many([(u, "pw") for u in USERS_B])
            fg.start()
            run(scenario(Scene(a, b, fg)), timeout=240)
        except BaseException:
            for s in (a, b):
                s.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            b.stop()
            a.stop()
    print("PASS test_prosody_remote")


if __name__ == "__main__":
    main()
