# SPDX-License-Identifier: ISC
"""slixmpp helpers: clients without TLS on 127.0.0.1, bounded in time.

    async def scenario():
        a = await connect(srv, "alice", "pw")
        a.subscribe("bob@" + srv.domain)
        await a.settle()
        ...
        await disconnect_all([a])
    run(scenario(), timeout=60)      # a test never hangs

Clients record what they receive (subscription requests, messages) and
every stanza error addressed to them, so tests count what was actually
delivered and refused.
"""
import asyncio
import base64
import logging
import socket
import time
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from .ports import LOOPBACK

log = logging.getLogger("fgtest.client")
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def error_condition(stanza):
    """(condition, text) of an error stanza, whatever slixmpp knows."""
    if stanza is None:
        return None, None
    err = stanza.xml.find("{jabber:client}error")
    if err is None:
        return None, None
    cond = ""
    for child in err:
        ns, _, name = child.tag[1:].partition("}")
        if ns == STANZAS_NS and name != "text":
            cond = name
            break
    return cond, stanza["error"]["text"]


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password):
        super().__init__(jid, password)
        # Never answer invitations by ourselves: tests decide.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199")
        self.register_plugin("xep_0092")
        self["feature_mechanisms"].unencrypted_plain = True
        self.subscriptions = []  # bare JIDs that asked us
        self.messages = []       # (bare from, body)
        self.errors = []         # (stanza name, from, condition, text)
        self.ready = asyncio.Event()
        self.failed = None
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_all_auth", self._on_fail)
        self.add_event_handler("presence_subscribe", self._on_subscribe)
        self.add_event_handler("message", self._on_message)
        self.add_event_handler("presence_error", self._on_error)
        self.add_event_handler("message_error", self._on_error)

    async def _on_start(self, _):
        self.send_presence()
        try:
            await self.get_roster(timeout=5)
        except (IqError, IqTimeout):
            pass
        self.ready.set()

    def _on_fail(self, _):
        self.failed = "auth"
        self.ready.set()

    def _on_subscribe(self, pres):
        self.subscriptions.append(pres["from"].bare)

    def _on_message(self, msg):
        if msg["type"] in ("chat", "normal") and msg["body"]:
            self.messages.append((msg["from"].bare, msg["body"]))

    def _on_error(self, st):
        # slixmpp's Error stanza does not know every RFC 6120 condition
        # (policy-violation is missing), so read the element names.
        cond, text = "", st["error"]["text"]
        err = st.xml.find("{jabber:client}error")
        if err is not None:
            for child in err:
                ns, _, name = child.tag[1:].partition("}")
                if ns == STANZAS_NS and name != "text":
                    cond = name
                    break
        self.errors.append((st.name, st["from"].bare, cond, text))

    # -- actions ---------------------------------------------------------------

    def subscribe(self, to):
        self.send_presence(pto=to, ptype="subscribe")

    def approve(self, to):
        self.send_presence(pto=to, ptype="subscribed")

    def message(self, to, body, mtype="chat"):
        self.send_message(mto=to, mbody=body, mtype=mtype)

    def errors_with(self, condition):
        return [e for e in self.errors if e[2] == condition]

    async def disco_info(self, jid, timeout=5):
        return await self["xep_0030"].get_info(jid=jid, timeout=timeout)

    async def ping(self, jid, timeout=5):
        """Round-trip time in seconds (raises on error/timeout)."""
        return await self["xep_0199"].ping(jid=jid, timeout=timeout)

    async def iq(self, stanza_xml, timeout=5):
        """Send a raw <iq/> (an ElementTree element or XML text) and return
        the reply stanza, error or result; None on timeout."""
        iq = self.Iq()
        el = ET.fromstring(stanza_xml) if isinstance(stanza_xml, str) else stanza_xml
        for k, v in el.attrib.items():
            iq[k] = v
        for child in el:
            iq.append(child)
        if not iq["id"]:
            iq["id"] = self.new_id()
        try:
            return await iq.send(timeout=timeout)
        except IqError as e:
            return e.iq
        except IqTimeout:
            return None

    async def settle(self, seconds=0.5):
        await asyncio.sleep(seconds)


async def connect(server, user, password, resource="fgtest", timeout=10):
    """Log in user@server.domain over plain TCP on 127.0.0.1; raises on
    failure."""
    c = Client("%s@%s/%s" % (user, server.domain, resource), password)
    c.connect(address=(getattr(server, "host", LOOPBACK), server.c2s_port),
              force_starttls=False, disable_starttls=True)
    try:
        await asyncio.wait_for(c.ready.wait(), timeout)
    except asyncio.TimeoutError:
        c.abort()
        raise RuntimeError("%s: no session within %ss" % (c.boundjid, timeout))
    if c.failed:
        c.abort()
        raise RuntimeError("%s: authentication failed" % c.boundjid)
    return c


async def connect_many(server, users, password_of=lambda u: "pw", timeout=20):
    return list(await asyncio.gather(*(connect(server, u, password_of(u), timeout=timeout)
                                        for u in users)))


async def disconnect_all(clients, wait=2.0):
    for c in clients:
        try:
            c.disconnect(wait=0.2)
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass
    await asyncio.sleep(min(wait, 0.5))
    for c in clients:
        try:
            c.abort()
        except Exception:  # noqa: BLE001
            pass


async def wait_until(pred, timeout, step=0.1):
    """Poll pred until it returns something true (which is returned) or
    timeout seconds pass (then pred's last value)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        await asyncio.sleep(step)
    return pred()


async def invite(server, sender, target, password="pw"):
    """One invitation sender -> target, both logged in for it:
    (delivered, [refusal conditions the sender got])."""
    a = await connect(server, sender, password)
    b = await connect(server, target, password)
    try:
        a.subscribe("%s@%s" % (target, server.domain))
        await wait_until(lambda: b.subscriptions or a.errors, 5)
        await asyncio.sleep(0.3)
        return ("%s@%s" % (sender, server.domain)) in b.subscriptions, [e[2] for e in a.errors]
    finally:
        await disconnect_all([a, b])


async def send_and_see(sender_srv, user, receiver_srv, to, body, timeout=5):
    """user@sender_srv sends body to to@receiver_srv, both logged in for
    it: 'delivered', the refusal condition the sender got, or
    'nothing'."""
    s = await connect(sender_srv, user, "pw")
    r = await connect(receiver_srv, to, "pw")
    try:
        s.message("%s@%s" % (to, receiver_srv.domain), body)

        def seen():
            return any(m[1] == body for m in r.messages)
        await wait_until(lambda: seen() or bool(s.errors), timeout)
        if s.errors:
            return s.errors[0][2]
        return "delivered" if seen() else "nothing"
    finally:
        await disconnect_all([s, r], wait=0.1)


async def muc_join(c, room, nick, timeout=5):
    """Client c joins room (a bare JID) as nick: 'joined', the error
    condition of the refusal, or 'timeout'."""
    fut = asyncio.get_running_loop().create_future()

    def on_presence(p):
        if p["from"].bare != room or fut.done():
            return
        if p["type"] == "error":
            fut.set_result(p["error"]["condition"] or "error")
        elif p["from"].resource == nick:
            fut.set_result("joined")
    c.add_event_handler("presence", on_presence)
    try:
        p = c.make_presence(pto="%s/%s" % (room, nick))
        p.append(ET.Element("{http://jabber.org/protocol/muc}x"))
        p.send()
        return await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        return "timeout"
    finally:
        c.del_event_handler("presence", on_presence)


def run(coro, timeout=60):
    """Run a coroutine with a hard timeout in a fresh event loop."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=2))
        finally:
            loop.close()


# -- a raw login, for names slixmpp would lowercase ---------------------------

class RawSession:
    """A minimal client over a socket: stream, SASL PLAIN with the login
    exactly as given (slixmpp nodepreps JIDs, so it cannot send "Alice"),
    bind. Used to check what the server and floodgate see as typed."""

    def __init__(self, server, timeout=5.0):
        self.server = server
        self.timeout = timeout
        self.sock = socket.create_connection((getattr(server, "host", LOOPBACK),
                                              server.c2s_port), timeout=timeout)
        self.buf = b""

    def _send(self, s):
        self.sock.sendall(s.encode())

    def _read_until(self, *needles):
        end = time.monotonic() + self.timeout
        while time.monotonic() < end:
            for n in needles:
                if n.encode() in self.buf:
                    data, self.buf = self.buf, b""
                    return data.decode("utf-8", "replace")
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            self.buf += chunk
        data, self.buf = self.buf, b""
        return data.decode("utf-8", "replace")

    def _open(self):
        self._send("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' "
                   "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
                   % self.server.domain)
        return self._read_until("</stream:features>")

    def login(self, login, password, resource="raw"):
        """True when bound; otherwise the SASL failure text."""
        self._open()
        token = base64.b64encode(b"\0" + login.encode() + b"\0" + password.encode()).decode()
        self._send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>%s</auth>"
                   % token)
        r = self._read_until("<success", "</failure>")
        if "<success" not in r:
            return r
        self._open()
        self._send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                   "<resource>%s</resource></bind></iq>" % resource)
        r = self._read_until("</iq>")
        return "type='result'" in r or 'type="result"' in r

    def close(self):
        try:
            self._send("</stream:stream>")
            self._read_until("</stream:stream>")
        except OSError:
            pass
        self.sock.close()
