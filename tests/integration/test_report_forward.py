#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Reports go out: XEP-0377 reports on a remote spammer reach the abuse
address its server advertises and a configured collector, exactly once.

Prosody a.test (s2s on 127.0.0.31) runs mod_floodgate with floodgated
attached, [reports] forward-to = collector@a.test; ejabberd 23.01 c.test
(s2s on 127.0.0.32) advertises xmpp:abuse@c.test (and a mailto: address)
in its XEP-0157 serverinfo form (mod_disco server_info). s2s runs without
TLS, authenticated by dialback, names from fgtest/federation.py.

- two a.test users report erin@c.test (XEP-0377 inside a XEP-0191
  block): her score reaches throttle only, and nothing is sent about her;
- three a.test users report dave@c.test: quarantined with reports on
  record, floodgate asks c.test for its abuse addresses (disco#info) and
  sends one report to abuse@c.test and one to collector@a.test, with the
  JID, the count of reports and no message body;
- a fourth report blocks dave: nothing more is sent;
- after a restart of floodgated, an unblock and three fresh reports
  quarantine dave again: still nothing more is sent (the store remembers);
- floodgate_reports_sent_total says 2;
- an admin blocks frank@c.test with floodgatectl: one report to each,
  saying an administrator blocked him and why; unblocking and blocking
  him again sends nothing more.

Exit 0 on pass, 77 when floodgated is not built or ejabberd 23.01 or
Prosody is not installed.
"""
import asyncio
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon, ejabberd  # noqa: E402
from fgtest.client import connect, disconnect_all, run, wait_until  # noqa: E402
from fgtest.federation import (FederatedEjabberd, FederatedProsody, NameServer,  # noqa: E402
                               write_resolver)
from fgtest.prosody import PROSODY  # noqa: E402

# Not .2-.5: other federation tests bind those, and make -j check runs
# them at once.
A, C = ("a.test", "127.0.0.31"), ("c.test", "127.0.0.32")
REPORTERS = ["u%d" % i for i in range(1, 8)]
NS_REPORTING = "urn:xmpp:reporting:1"


def report_iq(spammer):
    return ("<iq type='set' xmlns='jabber:client'>"
            "<block xmlns='urn:xmpp:blocking'><item jid='%s'>"
            "<report xmlns='urn:xmpp:reporting:1' reason='urn:xmpp:reporting:spam'/>"
            "</item></block></iq>" % spammer)


async def report(a, users, spammer):
    clients = [await connect(a, u, "pw") for u in users]
    try:
        for c in clients:
            r = await c.iq(report_iq(spammer))
            check(r is not None and r["type"] == "result",
                  "%s's block with a report of %s is accepted" % (c.boundjid.bare, spammer))
    finally:
        await disconnect_all(clients)


class Inbox:
    """A logged-in account that keeps every message stanza as text."""

    def __init__(self):
        self.c = None
        self.raw = []

    async def open(self, srv, user):
        self.c = await connect(srv, user, "pw")
        self.c.add_event_handler("message", lambda m: self.raw.append(str(m)))
        return self

    def reports(self, about):
        return [m for m in self.raw if NS_REPORTING in m and about in m]


def ctl(fg, *args):
    argv = [os.path.join(top_builddir(), "floodgatectl"), args[0], "-c", fg.config] + list(args[1:])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    print("$ floodgatectl %s -> %d %s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


def verdict(fg, jid):
    r = ctl(fg, "inspect", "--json", jid)
    try:
        return json.loads(r.stdout).get("effective")
    except ValueError:
        return r.stdout


async def scenario(a, c, fg):
    abuse = await Inbox().open(c, "abuse")
    collector = await Inbox().open(a, "collector")
    try:
        await report(a, REPORTERS[:2], "erin@c.test")
        await report(a, REPORTERS[:3], "dave@c.test")
        got = await wait_until(lambda: abuse.reports("dave@c.test")
                               and collector.reports("dave@c.test"), 20)
        check(got, "a report on dave@c.test reached abuse@c.test and collector@a.test")
        print("report at abuse@c.test:\n%s" % abuse.reports("dave@c.test")[0])
        for box, who in ((abuse, "abuse@c.test"), (collector, "collector@a.test")):
            m = box.reports("dave@c.test")[0]
            check("<jid xmlns=\"urn:xmpp:jid:0\">dave@c.test</jid>" in m,
                  "the report to %s names dave@c.test in <jid/>" % who)
            check("reason=\"urn:xmpp:reporting:spam\"" in m, "its reason is spam")
            check("Spam reports from our users: 3" in m, "its text counts the 3 reports")
        # the fourth report blocks dave: a verdict change, nothing sent
        await report(a, REPORTERS[3:4], "dave@c.test")
        await asyncio.sleep(3)
        check(verdict(fg, "dave@c.test") == "block", "dave@c.test is blocked")
        check(verdict(fg, "erin@c.test") == "throttle", "erin@c.test is only throttled")
        check(fg.metric("floodgate_reports_sent_total") == 2,
              "floodgate_reports_sent_total is 2")
        check("reports: reported dave@c.test to abuse@c.test" in fg.log_text(),
              "the log names the report to abuse@c.test")
        # a restart, an unblock, three fresh reports: quarantined again
        rc = fg.stop()
        check(rc == 0, "floodgated exits 0 (%s)" % rc)
        fg.start()
        r = ctl(fg, "unblock", "dave@c.test")
        check(r.returncode == 0, "floodgatectl unblock dave@c.test")
        await report(a, REPORTERS[4:7], "dave@c.test")
        await asyncio.sleep(4)
        check(verdict(fg, "dave@c.test") == "quarantine",
              "dave@c.test is quarantined again after the restart")
        # the hook did run (it asked c.test again); the store said "sent"
        check(fg.wait_log(r"reports: c\.test advertises 1 abuse", 10) is not None,
              "the restarted daemon looked the report's destinations up again")
        check(fg.metric("floodgate_reports_sent_total") == 0,
              "the restarted daemon sent no report")
        check(len(abuse.reports("dave@c.test")) == 1,
              "abuse@c.test got exactly one report on dave (%d)"
              % len(abuse.reports("dave@c.test")))
        check(len(collector.reports("dave@c.test")) == 1,
              "collector@a.test got exactly one report on dave (%d)"
              % len(collector.reports("dave@c.test")))
        check(not abuse.reports("erin@c.test") and not collector.reports("erin@c.test"),
              "nothing was sent about erin@c.test, only throttled")
        # an admin blocks a remote account: reported at once, once
        r = ctl(fg, "block", "frank@c.test", "spam", "run")
        check(r.returncode == 0, "floodgatectl block frank@c.test")
        got = await wait_until(lambda: abuse.reports("frank@c.test")
                               and collector.reports("frank@c.test"), 20)
        check(got, "the admin's block of frank@c.test was reported to both")
        m = abuse.reports("frank@c.test")[0]
        check("set by an administrator" in m and "Reason: spam run" in m,
              "the report says an administrator blocked frank, and why")
        ctl(fg, "unblock", "frank@c.test")
        ctl(fg, "block", "frank@c.test", "again")
        await asyncio.sleep(3)
        check(len(abuse.reports("frank@c.test")) == 1
              and len(collector.reports("frank@c.test")) == 1,
              "blocking frank again sends nothing more")
        check(fg.metric("floodgate_reports_sent_total") == 2,
              "the restarted daemon sent 2 reports, both on frank")
    finally:
        await disconnect_all([abuse.c, collector.c])


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    if not ejabberd.available():
        skip("ejabberd 23.01 not installed (no %s/ejabberd-23.01*)" % ejabberd.EJ_LIB)
    if not os.path.exists(PROSODY):
        skip("prosody not installed")
    with Workdir("report-forward") as wd:
        # ejabberd checks dialback for floodgate.a.test too: the reports
        # come from the component's domain
        ns = NameServer([A, C, ("floodgate." + A[0], A[1])])
        unbound = write_resolver(wd, [A, C])
        a = FederatedProsody(os.path.join(wd, A[0]), A[0], A[1], unbound, floodgate=True)
        c = FederatedEjabberd(os.path.join(wd, C[0]), C[0], C[1], ns, floodgate=False,
                              modules={"mod_disco": {"server_info": [
                                  {"modules": "all", "name": "abuse-addresses",
                                   "urls": ["mailto:abuse@c.test", "xmpp:abuse@c.test"]}]}})
        fg = daemon.Floodgated(os.path.join(wd, "fg"), a, sections={
            "reports": {"forward-to": "collector@a.test"},
            # 2 reports: throttle (8), 3: quarantine (12), 4: block (16,
            # a little less once it decays)
            "policy": {"weight.report": "4", "block-at": "15"},
            "control": {"socket": os.path.join(wd, "fg", "ctl.sock")},
        })
        try:
            ns.start()
            a.start()
            c.start()
            a.register_many([(u, "pw") for u in REPORTERS + ["collector"]])
            c.register_many([(u, "pw") for u in ("abuse", "dave", "erin")])
            fg.start()
            run(scenario(a, c, fg), timeout=120)
            rc = fg.stop()
            check(rc == 0, "floodgated exits 0 (%s)" % rc)
            for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                check(name not in fg.log_text(), "no %s report" % name)
        except BaseException:
            for s in (a, c):
                s.dump_log()
            fg.dump_log()
            sys.stderr.write("name server queries: %s\n" % ns.queries[-20:])
            raise
        finally:
            fg.stop()
            c.stop()
            a.stop()
            ns.stop()
    print("PASS test_report_forward")


if __name__ == "__main__":
    main()
