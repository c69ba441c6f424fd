#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Remote accounts as admin subjects, over real s2s.

Two Prosody 0.12 servers federate on loopback: a.test (127.0.0.41) runs
mod_floodgate with floodgated attached; b.test (127.0.0.42) runs a MUC
(rooms.b.test) with the stock mod_muc_rtbl subscribed to a.test's
floodgate (muc_rtbl_jid = floodgate.a.test, node muc_bans_sha256).

- `floodgatectl block dave@b.test` is accepted (no "act on its domain"),
  pushed to a.test's module, and published: b.test's mod_muc_rtbl refuses
  dave in its rooms while carol@b.test joins; dave's stranger message to
  a.test is refused, carol's is delivered;
- `floodgatectl unblock` lifts the room ban within 1 s (measured);
- the same through the ad-hoc block/unblock commands; an ad-hoc block of
  the whole domain b.test still asks for its confirmation;
- quarantine of a remote account: its stranger message to a.test is
  refused, its message to a contact flows;
- a trap hit: erin@b.test writes to trap@a.test and is quarantined; the
  same text from frank@b.test to alice@a.test is refused on its first try
  (and frank quarantined), other text from carol@b.test is delivered;
- operator lists: a plain JID entry acts at start, a SHA-256 entry when
  its sender writes; a stranger message linking to a subdomain of a
  listed URL host is refused (when the module sends host fingerprints);
  SIGHUP reload swaps the entries, and a list with a bad line keeps the
  old one with a file:line message.

Exit 0 on pass, 77 when floodgated or mod_muc_rtbl is missing.
"""
import asyncio
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir, top_srcdir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.adhoc import enable, run_command  # noqa: E402
from fgtest.client import connect, disconnect_all, run, wait_until  # noqa: E402
from fgtest.federation import FederatedProsody, write_resolver  # noqa: E402
from fgtest.prosody import _lua  # noqa: E402

# addresses of their own: other federation tests may run at the same time
A, B = ("a.test", "127.0.0.41"), ("b.test", "127.0.0.42")
ROOMS = "rooms.b.test"
ROOM = "lobby@" + ROOMS
MUC_RTBL = "/usr/lib/prosody/modules/mod_muc_rtbl/mod_muc_rtbl.lua"
SPAM = "Cheap pills, order #4711 now at https://pills.example/buy"


class MucProsody(FederatedProsody):
    """b.test: a FederatedProsody with a MUC whose mod_muc_rtbl reads
    floodgate.a.test's muc_bans_sha256."""

    def write_config(self):
        super().write_config()
        with open(self.config, "a") as f:
            f.write("\nComponent %s \"muc\"\n"
                    "  modules_enabled = { \"muc_rtbl\" }\n"
                    "  muc_rtbl_jid = %s\n"
                    "  muc_room_locking = false\n" % (_lua(ROOMS), _lua("floodgate." + A[0])))


def ctl(fg, *args):
    argv = [os.path.join(top_builddir(), "floodgatectl"), args[0], "-c", fg.config] + list(args[1:])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    print("$ floodgatectl %s -> %d: %s%s" % (" ".join(args), r.returncode, r.stdout.strip(),
                                            (" stderr: " + r.stderr.strip()) if r.stderr else ""))
    return r


def verdict_of(fg, subject):
    r = ctl(fg, "inspect", "--json", subject)
    return json.loads(r.stdout).get("effective") if r.returncode in (0, 1) else None


async def try_join(b, user, nick, timeout=5):
    """'joined', or the error condition of the join."""
    c = await connect(b, user, "pw")
    fut = asyncio.get_running_loop().create_future()

    def on_presence(p):
        if p["from"].bare != ROOM or fut.done():
            return
        if p["type"] == "error":
            err = p.xml.find("{jabber:client}error")
            cond = "error"
            for child in (err if err is not None else []):
                cond = child.tag.partition("}")[2]
                break
            fut.set_result(cond)
        elif p["from"].resource == nick:
            fut.set_result("joined")
    c.add_event_handler("presence", on_presence)
    try:
        p = c.make_presence(pto="%s/%s" % (ROOM, nick))
        p.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        p.send()
        r = await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        r = "timeout"
    await disconnect_all([c], wait=0.1)
    return r


async def hold_room(b):
    """owner@b.test creates and keeps the room (mod_muc_rtbl skips
    affiliated users, and an empty room is destroyed)."""
    c = await connect(b, "owner", "pw")
    fut = asyncio.get_running_loop().create_future()
    c.add_event_handler("presence", lambda p: fut.done() or p["from"].bare != ROOM
                        or fut.set_result(p["type"]))
    p = c.make_presence(pto="%s/owner" % ROOM)
    p.append(ET.Element("{http://jabber.org/protocol/muc}x"))
    p.send()
    await asyncio.wait_for(fut, 10)
    return c


async def send_and_see(b_user, a, to, body, b_srv, timeout=5):
    """b_user@b.test sends body to to@a.test (logged in as a): 'delivered',
    the refusal condition, or 'nothing'."""
    s = await connect(b_srv, b_user, "pw")
    r = await connect(a, to, "pw")
    try:
        s.message("%s@%s" % (to, A[0]), body)
        def seen():
            return any(m[1] == body for m in r.messages)
        await wait_until(lambda: seen() or bool(s.errors), timeout)
        if s.errors:
            return s.errors[0][2]
        return "delivered" if seen() else "nothing"
    finally:
        await disconnect_all([s, r], wait=0.1)


async def make_contacts(a, b, a_user, b_user):
    """a_user@a.test and b_user@b.test: mutual subscription."""
    x = await connect(a, a_user, "pw")
    y = await connect(b, b_user, "pw")
    try:
        xj, yj = "%s@%s" % (a_user, A[0]), "%s@%s" % (b_user, B[0])
        y.subscribe(xj)
        await wait_until(lambda: xj.split("@")[0] and x.subscriptions, 5)
        x.approve(yj)
        x.subscribe(yj)
        await wait_until(lambda: y.subscriptions, 5)
        y.approve(xj)
        await asyncio.sleep(0.5)
    finally:
        await disconnect_all([x, y], wait=0.1)


async def adhoc(a, node, fields):
    admin = await connect(a, "admin", "pw")
    try:
        await enable(admin)
        return await run_command(admin, "floodgate." + A[0], node, fields)
    finally:
        await disconnect_all([admin], wait=0.1)


async def lifted_after(b, user, act, limit=3.0):
    """Seconds from the end of act() (an unblock; a plain or async
    callable) until user, logged in beforehand, joins the room; None if
    not within limit."""
    c = await connect(b, user, "pw")
    results = asyncio.Queue()

    def on_presence(p):
        if p["from"].bare != ROOM:
            return
        if p["type"] == "error":
            results.put_nowait("error")
        elif p["from"].resource == user and p["type"] != "unavailable":
            results.put_nowait("joined")
    c.add_event_handler("presence", on_presence)

    def join():
        p = c.make_presence(pto="%s/%s" % (ROOM, user))
        p.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        p.send()
    try:
        # still refused right before the unblock, on this same stream
        join()
        try:
            before = await asyncio.wait_for(results.get(), 5.0)
        except asyncio.TimeoutError:
            before = "timeout"
        check(before == "error", "%s's join right before the unblock is refused (%s)"
              % (user, before))
        r = act()
        if asyncio.iscoroutine(r):
            r = await r
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            join()
            try:
                got = await asyncio.wait_for(results.get(), 1.0)
            except asyncio.TimeoutError:
                continue
            if got == "joined":
                return time.monotonic() - t0
            await asyncio.sleep(0.05)
        return None
    finally:
        await disconnect_all([c], wait=0.1)


def until_join(b, user, want, limit):
    """Seconds until user's join gives want (tried every 0.1 s), or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if run(try_join(b, user, user, timeout=2), timeout=10) == want:
            return time.monotonic() - t0
        time.sleep(0.1)
    return None


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    if not os.path.exists(MUC_RTBL):
        skip("mod_muc_rtbl (prosody-modules) not installed")
    with Workdir("remote-admin") as wd:
        # rooms.b.test too: a.test dials it back for dialback
        unbound = write_resolver(wd, [A, B, (ROOMS, B[1])])
        a = FederatedProsody(os.path.join(wd, A[0]), A[0], A[1], unbound, floodgate=True)
        b = MucProsody(os.path.join(wd, B[0]), B[0], B[1], unbound)
        hosts = os.path.join(wd, "hosts.txt")
        with open(hosts, "w") as f:
            f.write("badlinks.example\n")
        lists = os.path.join(wd, "jids.txt")
        hidden = hashlib.sha256(b"hidden@b.test").hexdigest()
        with open(lists, "w") as f:
            f.write("# operator list\nlisted@b.test\n%s  # hashed\n" % hidden)
        fg = daemon.Floodgated(os.path.join(wd, "fg"), a, admins=["admin@" + A[0]],
                               sections={"blocklist": {"domains": B[0]},
                                         "detect.traps": {"jids": "trap@" + A[0]},
                                         "lists": {"jids": lists, "url-hosts": hosts}})
        c = None
        try:
            a.start()
            a.register_many([(u, "pw") for u in ("admin", "alice", "bob", "trap")])
            fg.start()
            b.start()
            b.register_many([(u, "pw") for u in ("dave", "carol", "erin", "frank", "owner",
                                                 "listed", "hidden", "newly", "gina")])
            b.shell('module:reload("muc_rtbl", "%s")' % ROOMS)
            m = fg.wait_log(r"pubsub: %s subscribed to muc_bans_sha256" % re.escape(ROOMS), 15)
            check(m is not None, "b.test's mod_muc_rtbl subscribed to floodgate.a.test")
            c = run(hold_room(b), timeout=20)

            # -- floodgatectl block of a remote account ----------------------
            r = ctl(fg, "block", "dave@b.test", "spam", "wave")
            check(r.returncode == 0 and "not a local account" not in r.stdout + r.stderr,
                  "floodgatectl block dave@b.test is accepted")
            check(verdict_of(fg, "dave@b.test") == "block", "dave@b.test is blocked")
            check(verdict_of(fg, "b.test") == "allow", "its domain b.test is not")
            r = ctl(fg, "inspect", "dave@b.test")
            check("account dave@b.test (remote)" in r.stdout, "inspect names it a remote account")
            ok = wait_log(a, r"Verdict account dave@b.test: block", 5)
            check(ok, "the block is pushed to a.test's module")
            dt = until_join(b, "dave", "forbidden", 5)
            check(dt is not None, "b.test's stock mod_muc_rtbl refuses dave in its room "
                  "(after %.2f s)" % (dt or -1))
            r1 = run(try_join(b, "carol", "carol"), timeout=15)
            check(r1 == "joined", "carol@b.test joins the same room (%s)" % r1)
            r1 = run(send_and_see("dave", a, "alice", "hello from dave", b), timeout=20)
            check(r1 == "policy-violation", "dave's stranger message to alice@a.test is "
                  "refused (%s)" % r1)
            r1 = run(send_and_see("carol", a, "alice", "hello from carol", b), timeout=20)
            check(r1 == "delivered", "carol's stranger message to alice@a.test is delivered "
                  "(%s)" % r1)

            out = {}

            def unblock():
                out["ctl"] = ctl(fg, "unblock", "dave@b.test")
            dt = run(lifted_after(b, "dave", unblock), timeout=30)
            check(out["ctl"].returncode == 0, "floodgatectl unblock dave@b.test")
            check(dt is not None and dt <= 1.0, "dave joins again %.2f s after the unblock "
                  "(at most 1 s)" % (dt if dt is not None else -1))
            print("measured: room ban lifted %.3f s after floodgatectl unblock" % dt)

            # -- the same through ad-hoc -----------------------------------------
            rep = run(adhoc(a, "block", {"subject": "dave@b.test", "reason": "spam",
                                         "duration": "1d"}), timeout=30)
            check(rep.status == "completed" and "blocked" in rep.note(),
                  "ad-hoc block of dave@b.test (%s)" % rep.note())
            dt = until_join(b, "dave", "forbidden", 5)
            check(dt is not None, "after the ad-hoc block dave is refused in b.test's room")
            async def adhoc_unblock():
                out["rep"] = await adhoc(a, "unblock", {"subject": "dave@b.test"})
            dt = run(lifted_after(b, "dave", adhoc_unblock), timeout=60)
            check(out["rep"].status == "completed", "ad-hoc unblock (%s)" % out["rep"].note())
            check(dt is not None and dt <= 1.0, "dave joins %.2f s after the ad-hoc unblock"
                  % (dt if dt is not None else -1))
            print("measured: room ban lifted %.3f s after the ad-hoc unblock" % dt)
            rep = run(adhoc(a, "block", {"subject": "b.test", "reason": "spam",
                                         "duration": "1d"}), timeout=30)
            check("not confirmed" in rep.note("error"),
                  "an ad-hoc block of the whole domain b.test asks for the confirmation (%s)"
                  % rep.note())
            check(verdict_of(fg, "b.test") == "allow", "b.test stays unblocked")

            # -- quarantine: strangers refused, contacts flow ---------------------
            run(make_contacts(a, b, "bob", "dave"), timeout=30)
            r = ctl(fg, "quarantine", "dave@b.test", "spam")
            check(r.returncode == 0, "floodgatectl quarantine dave@b.test")
            r1 = run(send_and_see("dave", a, "alice", "hi stranger", b), timeout=20)
            check(r1 == "policy-violation", "quarantined dave -> stranger alice: refused (%s)"
                  % r1)
            r1 = run(send_and_see("dave", a, "bob", "hi contact", b), timeout=20)
            check(r1 == "delivered", "quarantined dave -> contact bob: delivered (%s)" % r1)
            ctl(fg, "unblock", "dave@b.test")

            # -- trap recipient ------------------------------------------------------
            r1 = run(send_and_see("erin", a, "trap", SPAM, b), timeout=20)
            check(r1 == "policy-violation", "erin's spam to the trap is refused (%s)" % r1)
            check(verdict_of(fg, "erin@b.test") == "quarantine",
                  "the trap hit quarantined erin@b.test")
            r1 = run(send_and_see("frank", a, "alice", SPAM, b), timeout=20)
            check(r1 == "policy-violation", "the same text from frank@b.test to alice is "
                  "refused on the first try (%s)" % r1)
            # its body and its link were both marked: frank now stands at
            # content-wave + url-wave, past the quarantine threshold
            check(verdict_of(fg, "frank@b.test") == "quarantine",
                  "sending the marked spam quarantined frank@b.test")
            r1 = run(send_and_see("carol", a, "alice", "lunch tomorrow?", b), timeout=20)
            check(r1 == "delivered", "other text from carol@b.test is delivered (%s)" % r1)
            check(verdict_of(fg, "b.test") == "allow", "the domain b.test is left alone")

            # -- operator lists and SIGHUP ------------------------------------------
            check(verdict_of(fg, "listed@b.test") == "quarantine",
                  "a plain list entry is quarantined from the start")
            check(verdict_of(fg, "hidden@b.test") == "allow",
                  "a hashed entry is unknown until its sender shows up")
            r1 = run(send_and_see("hidden", a, "alice", "hi there", b), timeout=20)
            check(r1 == "policy-violation", "the hashed entry's message is refused (%s)" % r1)
            check(verdict_of(fg, "hidden@b.test") == "quarantine",
                  "and its sender quarantined")
            if module_sends_hfp():
                r1 = run(send_and_see("gina", a, "alice",
                                      "see https://www.shop.BadLinks.example/offer", b),
                         timeout=20)
                check(r1 == "policy-violation", "a stranger message linking to a listed "
                      "URL host is refused (%s)" % r1)
                check("url-list" in json.loads(ctl(fg, "inspect", "--json", "gina@b.test")
                                               .stdout)["signals"],
                      "and its sender scored url-list")
            else:
                print("not checked: this mod_floodgate sends no host fingerprints")
            with open(lists, "w") as f:
                f.write("newly@b.test\n")
            loads = len(re.findall(r"lists: \d+ entries from \S*jids\.txt", fg.log_text()))
            fg.proc.send_signal(signal.SIGHUP)
            check(run(wait_until(lambda: len(re.findall(r"lists: 1 entries from \S*jids\.txt",
                                                         fg.log_text())) > 0
                                 and len(re.findall(r"lists: \d+ entries from \S*jids\.txt",
                                                    fg.log_text())) > loads, 5), timeout=10),
                  "SIGHUP re-read the list")
            check(verdict_of(fg, "newly@b.test") == "quarantine", "the new entry acts")
            check(verdict_of(fg, "listed@b.test") == "allow", "the removed entry is lifted")
            with open(lists, "w") as f:
                f.write("other@b.test\nnot a jid\n")
            fg.proc.send_signal(signal.SIGHUP)
            m = fg.wait_log(r"jids\.txt:2: [^\n]*'not a jid'", 5)
            check(m is not None, "a bad line is reported as file:line (%s)"
                  % (m.group(0) if m else None))
            check(verdict_of(fg, "newly@b.test") == "quarantine"
                  and verdict_of(fg, "other@b.test") == "allow",
                  "a list with a bad line keeps the previous one")
            r = ctl(fg, "reload")
            check(r.returncode == 1 and "not loaded" in r.stdout + r.stderr,
                  "floodgatectl reload says the list was not loaded (exit %d)" % r.returncode)
            check(fg.metric("floodgate_list_rejects_total") >= 2,
                  "floodgate_list_rejects_total counts the rejected loads")
            with open(lists, "w") as f:
                f.write("other@b.test\n")
            r = ctl(fg, "reload")
            check(r.returncode == 0, "after the fix floodgatectl reload exits 0")
            check(verdict_of(fg, "other@b.test") == "quarantine", "and the fixed list acts")

            rc = fg.stop()
            check(rc == 0, "floodgated exits 0 (%s)" % rc)
            for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                check(name not in fg.log_text(), "no %s report" % name)
        except BaseException:
            for s in (a, b):
                s.dump_log()
            fg.dump_log()
            raise
        finally:
            if c is not None:
                run(disconnect_all([c], wait=0.1), timeout=10)
            fg.stop()
            b.stop()
            a.stop()
    print("PASS test_remote_admin")


def module_sends_hfp():
    path = os.path.join(top_srcdir(), "contrib", "prosody", "mod_floodgate.lua")
    try:
        return "hfp" in open(path).read()
    except OSError:
        return False


def wait_log(srv, pattern, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if re.search(pattern, srv.log_text()):
            return True
        time.sleep(0.05)
    return False


if __name__ == "__main__":
    main()
