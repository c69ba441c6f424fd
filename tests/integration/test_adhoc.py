#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""XEP-0050 ad-hoc commands against a real Prosody 0.12.

- disco: the component announces the commands feature; admins see the ten
  commands of doc/admin.md on the commands node, others an empty list and
  'forbidden' on execute (also with a form, and on a command node);
- as admin, with slixmpp's xep_0050 client, every command runs, and every
  command shows its form again with an error note on a bad input (bad JID,
  unknown subject, malformed time or duration, missing confirmation);
- list pages with next/prev; sessions cancel, and a cancelled session id
  is refused;
- registered-since lists accounts made by in-band registration and
  quarantines all of them, then unblocks a selection;
- end to end: quarantined account -> admin 'unblock' -> the account's next
  invitation is delivered; every action audited with the admin's JID.
"""
import asyncio
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.adhoc import NS_CMD, command, enable, ibr_register, run_command  # noqa: E402
from fgtest.client import connect, disconnect_all, run, wait_until, invite  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

COMMANDS = {"unblock", "block", "quarantine", "inspect", "list", "block-domain",
            "unblock-domain", "allowlist", "registered-since", "stats", "web-login",
            "alerts"}


def verdicts(srv, jid):
    return re.findall(r"Verdict account %s: (\w+)" % re.escape(jid), srv.log_text())


def bad_input(r, needle, what):
    """A bad input shows the form again with an error note."""
    check(r.status == "executing" and needle in r.note("error"),
          "%s: form again with an error note containing %r (%r)" % (what, needle, r.note()))


def done(r, needle, what):
    check(r.status == "completed" and needle in r.note(),
          "%s: completed, note %r (%r)" % (what, needle, r.note()))


async def scenario(srv, fg):
    d, comp = srv.domain, srv.component_jid
    admin = await connect(srv, "admin", "pw", resource="laptop")
    mallory = await connect(srv, "mallory", "pw")
    clients = [admin, mallory]
    try:
        await enable(admin)
        await enable(mallory)

        # -- disco and access ------------------------------------------------
        info = await admin.disco_info(comp)
        check(NS_CMD in info["disco_info"]["features"], "component announces %s" % NS_CMD)
        items = await admin["xep_0030"].get_items(jid=comp, node=NS_CMD, timeout=5)
        nodes = {i[1] for i in items["disco_items"]["items"]}
        check(nodes == COMMANDS, "admin sees the %d commands (%s)" % (len(COMMANDS), sorted(nodes)))
        order = [i[1] for i in items["disco_items"]["items"]]
        for _ in range(3):
            again = await admin["xep_0030"].get_items(jid=comp, node=NS_CMD, timeout=5)
            check([i[1] for i in again["disco_items"]["items"]] == order,
                  "the commands come in the same order on every request")
        items = await mallory["xep_0030"].get_items(jid=comp, node=NS_CMD, timeout=5)
        check(len(items["disco_items"]["items"]) == 0, "a non-admin sees no commands")
        for node in ("unblock", "stats", "web-login"):
            r = await command(mallory, comp, node)
            check(r.error == "forbidden", "non-admin execute %s -> forbidden (%s)" % (node, r.error))
        r = await command(mallory, comp, "block", {"subject": "bob@" + d, "reason": "x"},
                          action="complete")
        check(r.error == "forbidden", "non-admin with a ready form -> forbidden (%s)" % r.error)
        r = await command(admin, comp, "no-such-command")
        check(r.error == "item-not-found", "unknown command -> item-not-found (%s)" % r.error)

        # -- block --------------------------------------------------------------
        r = await run_command(admin, comp, "block", {"subject": "a@@" + d, "reason": "x"})
        bad_input(r, "not a valid", "block a bad JID")
        check(r.value("subject") == "a@@" + d, "the admin's value is kept in the form again")
        r = await command(admin, comp, "block", {"subject": "spammer@" + d, "reason": ""},
                          sessionid=r.sessionid, action="complete")
        bad_input(r, "reason is required", "block without a reason, same session")
        r = await command(admin, comp, "block", {"subject": "spammer@" + d, "reason": "spam",
                                                 "duration": "1d"},
                          sessionid=r.sessionid, action="complete")
        done(r, "blocked", "block spammer, same session after two mistakes")
        r = await run_command(admin, comp, "block", {"subject": d, "reason": "x"})
        bad_input(r, "serves", "block our own domain")

        # -- quarantine, then the account's invitation is refused ----------------
        r = await run_command(admin, comp, "quarantine", {"subject": "alice@" + d,
                                                          "reason": "probation",
                                                          "duration": "soon"})
        bad_input(r, "not a duration", "quarantine with a malformed duration")
        r = await run_command(admin, comp, "quarantine", {"subject": "alice@" + d,
                                                          "reason": "probation",
                                                          "duration": "7d"})
        done(r, "quarantined", "quarantine alice")
        ok = await wait_until(lambda: (verdicts(srv, "alice@" + d) or [""])[-1] == "quarantine", 5)
        check(ok, "the quarantine was pushed to Prosody at once")
        delivered, conds = await invite(srv, "alice", "bob")
        check(not delivered and "policy-violation" in conds,
              "quarantined alice's invitation is refused (%s)" % conds)

        # -- inspect ---------------------------------------------------------------
        r = await run_command(admin, comp, "inspect", {"subject": "exa mple.org"})
        bad_input(r, "not a valid", "inspect a bad subject")
        r = await run_command(admin, comp, "inspect", {"subject": "Alice@" + d.upper()})
        check(r.status == "completed" and r.value("verdict") == "quarantine",
              "inspect shows the quarantine (%s)" % r.value("verdict"))
        check("admin@%s: probation" % d in (r.value("override") or ""),
              "with the admin's bare JID and reason (%s)" % r.value("override"))
        audit = " ".join(r.fields.get("audit", []))
        check("-> quarantine by admin@%s: probation" % d in audit,
              "the audit entry names the actor (%s)" % audit)
        check(r.value("expires") not in (None, "never"), "and its expiry (%s)" % r.value("expires"))
        r = await run_command(admin, comp, "inspect", {"subject": "nobody@" + d})
        check(r.status == "completed" and "nothing on record" in r.note("warn"),
              "inspect of an unknown subject warns (%s)" % r.note())

        # -- allowlist -----------------------------------------------------------
        r = await run_command(admin, comp, "allowlist", {"subject": "192.0.2.0/16", "reason": "x"})
        bad_input(r, "/24", "allowlist a bad prefix")
        r = await run_command(admin, comp, "allowlist", {"subject": "carol@" + d, "reason": "ok"})
        done(r, "allowlisted", "allowlist carol")

        # -- block-domain / unblock-domain -------------------------------------
        r = await run_command(admin, comp, "block-domain", {"domain": "spam.example",
                                                            "reason": "rtbl", "confirm": "0"})
        bad_input(r, "not confirmed", "block-domain without the confirmation")
        r = await run_command(admin, comp, "block-domain", {"domain": "spam.example",
                                                            "reason": "rtbl", "confirm": "1"})
        done(r, "blocked", "block-domain spam.example")
        r = await run_command(admin, comp, "inspect", {"subject": "spam.example"})
        check(r.value("pubsub") == "listed on spam_source_domains",
              "inspect of a domain shows its pubsub listing (%s)" % r.value("pubsub"))
        r = await run_command(admin, comp, "unblock-domain", {"domain": "x@spam.example"})
        bad_input(r, "takes a domain", "unblock-domain with a JID")
        r = await run_command(admin, comp, "unblock-domain", {"domain": "spam.example"})
        done(r, "unblocked", "unblock-domain spam.example")

        # -- list with pages ----------------------------------------------------------
        for i in range(26):
            r = await run_command(admin, comp, "quarantine", {"subject": "page%02d@%s" % (i, d),
                                                              "reason": "paging",
                                                              "duration": "1h"})
            if r.status != "completed":
                check(False, "quarantine page%02d (%r)" % (i, r))
        r = await command(admin, comp, "list")
        check(r.status == "executing" and "verdict" in r.fields, "list asks for a filter first")
        sid = r.sessionid
        r = await command(admin, comp, "list", {"verdict": "maybe"}, sessionid=sid, action="next")
        bad_input(r, "verdict is", "list with an unknown verdict")
        r = await command(admin, comp, "list", {"verdict": "all", "type": "account"},
                          sessionid=sid, action="next")
        page1 = [i["subject"] for i in r.items]
        check(r.status == "executing" and len(page1) == 25 and "next" in r.actions,
              "list page 1 has 25 rows and a next action (%d, %s)" % (len(page1), r.actions))
        r = await command(admin, comp, "list", sessionid=sid, action="next")
        page2 = [i["subject"] for i in r.items]
        check("prev" in r.actions and len(page2) == 28 - 25,
              "page 2 has the rest (%s) and a prev action" % page2)
        allrows = set(page1 + page2)
        check({"alice@" + d, "spammer@" + d} <= allrows, "alice and spammer are listed")
        r = await command(admin, comp, "list", sessionid=sid, action="prev")
        check([i["subject"] for i in r.items] == page1, "prev returns to page 1")
        r = await command(admin, comp, "list", sessionid=sid, action="complete")
        check(r.status == "completed", "list completes")

        # -- cancel --------------------------------------------------------------
        r = await command(admin, comp, "block")
        sid = r.sessionid
        r = await command(admin, comp, "block", sessionid=sid, action="cancel")
        check(r.status == "canceled", "a session cancels (%s)" % r.status)
        r = await command(admin, comp, "block", {"subject": "bob@" + d, "reason": "x"},
                          sessionid=sid, action="complete")
        check(r.error == "bad-request", "a cancelled session id is refused (%s)" % r.error)

        # -- registered-since ---------------------------------------------------
        r = await run_command(admin, comp, "registered-since", {"since": "yesterday-ish"})
        bad_input(r, "not a time", "registered-since with a malformed time")
        r = await command(admin, comp, "registered-since")
        r = await command(admin, comp, "registered-since", {"since": "1h"},
                          sessionid=r.sessionid, action="next")
        sid = r.sessionid
        listed = [v for _, v in r.options.get("accounts", [])]
        labels = [lab for lab, _ in r.options.get("accounts", [])]
        waves = ["wave%d@%s" % (i, d) for i in range(3)]
        check(r.status == "executing" and set(waves) <= set(listed),
              "registered-since lists the in-band registrations (%s)" % listed)
        check(all("registered " in lab for lab in labels), "each with its registration time")
        r = await command(admin, comp, "registered-since",
                          {"action": "quarantine", "scope": "all", "reason": "wave"},
                          sessionid=sid, action="complete")
        bad_input(r, "not confirmed", "bulk action without the confirmation")
        r = await command(admin, comp, "registered-since",
                          {"action": "quarantine", "scope": "all", "reason": "wave",
                           "duration": "1d", "confirm": "1"},
                          sessionid=sid, action="complete")
        done(r, "%d accounts done" % len(listed), "quarantine everything registered since 1h")
        r = await run_command(admin, comp, "inspect", {"subject": waves[1]})
        check(r.value("verdict") == "quarantine", "a wave account is quarantined")
        r = await command(admin, comp, "registered-since")
        r = await command(admin, comp, "registered-since", {"since": "1h"},
                          sessionid=r.sessionid, action="next")
        r = await command(admin, comp, "registered-since",
                          {"action": "unblock", "scope": "selected", "accounts": [waves[0]],
                           "confirm": "true"}, sessionid=r.sessionid, action="complete")
        done(r, "1 account done", "unblock a selection")
        r = await run_command(admin, comp, "inspect", {"subject": waves[0]})
        check(r.value("verdict") == "allow", "the selected account is unblocked")

        # -- stats -----------------------------------------------------------------
        r = await command(admin, comp, "stats")
        check(r.status == "completed" and int(r.value("listed_quarantine")) >= 28,
              "stats counts the quarantines (%s)" % r.value("listed_quarantine"))

        # -- unblock: the next invitation is delivered ---------------------------
        r = await run_command(admin, comp, "unblock", {"subject": "nobody@" + d})
        bad_input(r, "nothing to lift", "unblock of a subject with nothing on it")
        r = await run_command(admin, comp, "unblock", {"subject": "alice@" + d,
                                                       "reason": "false positive"})
        done(r, "unblocked", "unblock alice")
        ok = await wait_until(lambda: (verdicts(srv, "alice@" + d) or [""])[-1] == "allow", 5)
        check(ok, "the unblock was pushed to Prosody at once")
        delivered, conds = await invite(srv, "alice", "bob")
        check(delivered and not conds, "after unblock alice's next invitation is delivered")
    finally:
        await disconnect_all(clients)


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("adhoc") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"),
                            global_options={"allow_registration": True,
                                            "min_seconds_between_registrations": 0})
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               admins=["Admin@" + srv.domain.upper()],
                               limits={"ip.register": "100/min burst 100"})
        try:
            srv.start()
            srv.register_many([(u, "pw") for u in ("admin", "mallory", "alice", "bob", "carol")])
            fg.start()
            for i in range(3):
                check(ibr_register(srv, "wave%d" % i, "pw"), "in-band registration of wave%d" % i)
            run(scenario(srv, fg), timeout=180)
            rc = fg.stop()
            check(rc == 0, "floodgated exits 0 (%s)" % rc)
            log = fg.log_text()
            for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                check(name not in log, "no %s report" % name)
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS test_adhoc")


if __name__ == "__main__":
    main()
