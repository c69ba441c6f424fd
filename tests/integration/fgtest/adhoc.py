# SPDX-License-Identifier: ISC
"""XEP-0050 helpers for tests: run ad-hoc commands with slixmpp's
xep_0050 client and read the reply (status, session, notes, form fields,
result items) from its XML; and in-band registration (XEP-0077) over a
raw stream, so accounts reach the server's "user-registered" hook.

    await enable(client)                       # load xep_0004 + xep_0050
    r = await command(client, comp, "block")   # first stage: the form
    r = await command(client, comp, "block", {"subject": "x@y"},
                      sessionid=r.sessionid, action="complete")
    r.status, r.notes, r.fields["verdict"], r.items, r.error
"""
from slixmpp.exceptions import IqError, IqTimeout

from .client import RawSession, error_condition

NS_CMD = "http://jabber.org/protocol/commands"
NS_X = "jabber:x:data"


async def enable(client):
    client.register_plugin("xep_0004")
    client.register_plugin("xep_0050")


class Reply:
    def __init__(self, iq=None, error=None, text=None):
        self.error, self.error_text = error, text
        self.status = self.sessionid = None
        self.notes, self.fields, self.options, self.items = [], {}, {}, []
        self.actions = []
        if iq is None:
            return
        cmd = iq.xml.find("{%s}command" % NS_CMD)
        if cmd is None:
            return
        self.status = cmd.get("status")
        self.sessionid = cmd.get("sessionid")
        self.notes = [(n.get("type"), n.text or "") for n in cmd.findall("{%s}note" % NS_CMD)]
        acts = cmd.find("{%s}actions" % NS_CMD)
        if acts is not None:
            self.actions = [a.tag.split("}")[1] for a in acts]
        x = cmd.find("{%s}x" % NS_X)
        if x is None:
            return
        for f in x.findall("{%s}field" % NS_X):
            var = f.get("var")
            self.fields[var] = [v.text or "" for v in f.findall("{%s}value" % NS_X)]
            self.options[var] = [(o.get("label"), o.findtext("{%s}value" % NS_X))
                                 for o in f.findall("{%s}option" % NS_X)]
        for it in x.findall("{%s}item" % NS_X):
            self.items.append({f.get("var"): f.findtext("{%s}value" % NS_X)
                               for f in it.findall("{%s}field" % NS_X)})

    def value(self, var):
        v = self.fields.get(var) or [None]
        return v[0]

    def note(self, type_=None):
        """Text of the notes (of one type), joined."""
        return " | ".join(t for k, t in self.notes if type_ is None or k == type_)

    def __repr__(self):
        return "Reply(status=%r, error=%r, notes=%r, fields=%r, items=%d)" % (
            self.status, self.error, self.notes, sorted(self.fields), len(self.items))


async def command(client, jid, node, fields=None, sessionid=None, action="execute",
                  timeout=10):
    """One exchange; fields (dict) become a submitted form; a list value is
    sent as list-multi."""
    payload = None
    if fields is not None:
        form = client["xep_0004"].make_form(ftype="submit")
        for var, val in fields.items():
            if isinstance(val, (list, tuple)):
                form.add_field(var=var, ftype="list-multi", value=list(val))
            else:
                form.add_field(var=var, value=val)
        payload = form
    try:
        iq = await client["xep_0050"].send_command(jid, node, action=action, payload=payload,
                                                   sessionid=sessionid, timeout=timeout)
    except IqError as e:
        cond, text = error_condition(e.iq)
        return Reply(error=cond, text=text)
    except IqTimeout:
        return Reply(error="timeout")
    return Reply(iq)


async def run_command(client, jid, node, fields):
    """Open a session, then submit fields with action 'complete'."""
    r = await command(client, jid, node)
    if r.error or r.status != "executing":
        return r
    return await command(client, jid, node, fields, sessionid=r.sessionid,
                         action="complete")


def ibr_register(server, user, password, timeout=5.0):
    """XEP-0077 in-band registration; True when the server says result."""
    s = RawSession(server, timeout=timeout)
    try:
        s._open()
        s._send("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'>"
                "<username>%s</username><password>%s</password></query></iq>"
                % (user, password))
        r = s._read_until("</iq>", "/>")
        return "type='result'" in r or 'type="result"' in r
    finally:
        s.close()
