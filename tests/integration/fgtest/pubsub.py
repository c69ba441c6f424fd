# SPDX-License-Identifier: ISC
"""Pubsub (XEP-0060) helpers for the blocklist tests.

    srv = ProsodyPlus(wd, extra_hosts=["other.test"],
                      extra_components=['Component "rooms.fg.test" "muc"\\n  ...'])
    c = await connect_jid(srv, "bob@other.test", "pw")
    watch_events(c)                      # c.ps_events: [(kind, node, id, t)]
    ids, rsm = await items(c, svc, "spam_source_domains", rsm_max=500)
    err = await subscribe(c, svc, node)  # None or the error condition
"""
import asyncio
import time
import xml.etree.ElementTree as ET

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from .client import Client, error_condition, wait_until
from .ports import LOOPBACK
from .prosody import ProsodyServer, _lua

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_EVENT = "http://jabber.org/protocol/pubsub#event"
NS_RSM = "http://jabber.org/protocol/rsm"


class ProsodyPlus(ProsodyServer):
    """ProsodyServer with more VirtualHosts and Components appended."""

    def __init__(self, workdir, extra_hosts=(), extra_components=(), **kw):
        self.extra_hosts = list(extra_hosts)
        self.extra_components = list(extra_components)
        super().__init__(workdir, **kw)

    def write_config(self):
        super().write_config()
        lines = [""]
        for h in getattr(self, "extra_hosts", ()):
            lines.append("VirtualHost %s" % _lua(h))
        for block in getattr(self, "extra_components", ()):
            lines.append(block)
        with open(self.config, "a") as f:
            f.write("\n".join(lines) + "\n")

    def register_on(self, user, host, password):
        r = self.prosodyctl("register", user, host, password)
        if r.returncode != 0:
            raise RuntimeError("register %s@%s: %s%s" % (user, host, r.stdout, r.stderr))


async def connect_jid(server, jid, password, timeout=10):
    """Log in any JID whose host the server serves."""
    c = Client(jid + ("" if "/" in jid else "/fgtest"), password)
    c.connect(address=(getattr(server, "host", LOOPBACK), server.c2s_port),
              force_starttls=False, disable_starttls=True)
    await asyncio.wait_for(c.ready.wait(), timeout)
    if c.failed:
        c.abort()
        raise RuntimeError("%s: authentication failed" % jid)
    return c


def watch_events(c):
    """Record pubsub events: c.ps_events = [(kind, node, id, monotonic)]."""
    c.ps_events = []

    def on_event(msg):
        ev = msg.xml.find("{%s}event" % NS_EVENT)
        for items in ev.findall("{%s}items" % NS_EVENT):
            node = items.get("node")
            for e in items:
                kind = e.tag.split("}")[1]
                c.ps_events.append((kind, node, e.get("id"), time.monotonic(),
                                    msg["from"].full))
    c.register_handler(Callback("fgtest-pubsub-event",
                                MatchXPath("{jabber:client}message/{%s}event" % NS_EVENT),
                                on_event))


def _iq(type_, to, payload):
    return "<iq xmlns='jabber:client' type='%s' to='%s'>%s</iq>" % (type_, to, payload)


async def items(c, service, node, rsm_max=None, after=None, max_items=None, timeout=10):
    """(ids, rsm dict, error condition)."""
    attrs = " max_items='%d'" % max_items if max_items else ""
    rsm = ""
    if rsm_max is not None or after is not None:
        rsm = "<set xmlns='%s'>" % NS_RSM
        if rsm_max is not None:
            rsm += "<max>%d</max>" % rsm_max
        if after is not None:
            rsm += "<after>%s</after>" % after
        rsm += "</set>"
    r = await c.iq(_iq("get", service, "<pubsub xmlns='%s'><items node='%s'%s/>%s</pubsub>"
                       % (NS_PUBSUB, node, attrs, rsm)), timeout=timeout)
    if r is None:
        return None, None, "timeout"
    if r["type"] == "error":
        return None, None, error_condition(r)[0]
    ps = r.xml.find("{%s}pubsub" % NS_PUBSUB)
    its = ps.find("{%s}items" % NS_PUBSUB)
    ids = [e.get("id") for e in its.findall("{%s}item" % NS_PUBSUB)]
    info = {}
    s = ps.find("{%s}set" % NS_RSM)
    if s is not None:
        for k in ("first", "last", "count"):
            e = s.find("{%s}%s" % (NS_RSM, k))
            info[k] = e.text if e is not None else None
    return ids, info, None


async def subscribe(c, service, node, jid=None, unsubscribe=False):
    """None on success, else the error condition."""
    verb = "unsubscribe" if unsubscribe else "subscribe"
    r = await c.iq(_iq("set", service, "<pubsub xmlns='%s'><%s node='%s' jid='%s'/></pubsub>"
                       % (NS_PUBSUB, verb, node, jid or c.boundjid.bare)))
    if r is None:
        return "timeout"
    return None if r["type"] == "result" else error_condition(r)[0]


async def publish(c, service, node, item_id, retract=False):
    """Admin listing (publish) or delisting (retract); None or the error."""
    verb = "retract" if retract else "publish"
    r = await c.iq(_iq("set", service, "<pubsub xmlns='%s'><%s node='%s'><item id='%s'/></%s></pubsub>"
                       % (NS_PUBSUB, verb, node, item_id, verb)))
    if r is None:
        return "timeout"
    return None if r["type"] == "result" else error_condition(r)[0]


async def wait_for(pred, timeout=5.0, step=0.02):
    """wait_until with a finer step: pubsub figures are tens of ms."""
    return await wait_until(pred, timeout, step)


def raw(stanza_xml):
    return ET.fromstring(stanza_xml)
