#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Two floodgated instances; B consumes A's spam_source_domains
as an [upstream] rtbl, and a plain domain list file.

- B starts while A is down: its RTBL requests fail and are retried with
  back-off until A is up;
- a domain an admin blocks on A reaches B's decisions (B's verdict push
  to its Prosody, logged by mod_floodgate) within one second, and its
  unblock on A lifts B's verdict within one second too;
- B's list file: bad lines reported as file:line and skipped, good lines
  become verdicts, and an edit is picked up on SIGHUP.
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import disconnect_all, run  # noqa: E402
from fgtest.pubsub import ProsodyPlus, connect_jid, publish, wait_for  # noqa: E402

NODE = "spam_source_domains"
PROPAGATE_MAX_S = 1.0


def verdict_logged(srv, domain, verdicts="quarantine|block"):
    return re.search(r"Verdict domain %s: (%s)" % (re.escape(domain), verdicts),
                     srv.log_text()) is not None


async def block_on_a(srv, a_jid, domain):
    admin = await connect_jid(srv, "admin@" + srv.domain, "pw")
    try:
        t0 = time.monotonic()
        err = await publish(admin, a_jid, NODE, domain)
        check(err is None, "admin blocks %s on A (%s)" % (domain, err))
        ok = await wait_for(lambda: verdict_logged(srv, domain), 5, 0.01)
        dt = time.monotonic() - t0
        print("measured: block on A -> B's verdict at its server %.3f s" % dt)
        check(ok, "B decided about %s (mod_floodgate logged the verdict)" % domain)
        check(dt <= PROPAGATE_MAX_S, "within %.0f s (%.3f s)" % (PROPAGATE_MAX_S, dt))
        # A delists it: B lifts what the listing alone caused, at once
        t0 = time.monotonic()
        err = await publish(admin, a_jid, NODE, domain, retract=True)
        check(err is None, "admin unblocks %s on A (%s)" % (domain, err))
        ok = await wait_for(lambda: verdict_logged(srv, domain, "allow"), 5, 0.01)
        dt = time.monotonic() - t0
        print("measured: unblock on A -> B allows again at its server %.3f s" % dt)
        check(ok and dt <= PROPAGATE_MAX_S,
              "B lifts the upstream-only verdict within %.0f s (%.3f s)" % (PROPAGATE_MAX_S, dt))
    finally:
        await disconnect_all([admin])


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("upstream") as wd:
        a_jid = "floodgate-a.fg.test"
        srv = ProsodyPlus(os.path.join(wd, "prosody"), extra_components=[
            'Component "%s"\n  component_secret = "fg-test-secret"' % a_jid])
        listfile = os.path.join(wd, "domains.txt")
        with open(listfile, "w") as f:
            f.write("# test list\nlisted.example\nnot a domain\nuser@bad.example\n")
        a = daemon.Floodgated(os.path.join(wd, "a"), srv, name="fg-a",
                              admins=["admin@" + srv.domain],
                              sections={"component": {"jid": a_jid}})
        b = daemon.Floodgated(os.path.join(wd, "b"), srv, name="fg-b",
                              sections={"upstream": {"rtbl": "%s %s" % (a_jid, NODE),
                                                     "lists": listfile}})
        try:
            srv.start()
            srv.register("admin", "pw")
            # B first: A's component is not connected, Prosody bounces
            b.start()
            m = b.wait_log(r"upstream %s %s: [^\n]*retrying in (\d+) s" % (a_jid, NODE), 5)
            check(m is not None, "B's first fetch fails and is retried (%s)"
                  % (m.group(0) if m else None))
            a.start()
            m = b.wait_log(r"upstream %s %s: 0 items" % (a_jid, NODE), 30)
            check(m is not None, "B fetched A's node after A came up")
            subs = a.wait_log(r"pubsub: %s subscribed to %s" % (re.escape(srv.component_jid), NODE), 5)
            check(subs is not None, "B subscribed to A from its component JID")

            # the list file
            log = b.log_text()
            check(re.search(r"domains\.txt:3: more than one word", log) is not None,
                  "bad line reported as file:3")
            check(re.search(r"domains\.txt:4: not a domain name", log) is not None,
                  "bad line reported as file:4")
            check(wait_for_sync(lambda: verdict_logged(srv, "listed.example"), 5),
                  "listed.example from the file became a verdict")

            run(block_on_a(srv, a_jid, "spam.example"), timeout=30)
            check(b.metric("floodgate_upstream_items") >= 1,
                  "B's /metrics counts the upstream items")
            src = "rtbl:%s/%s" % (a_jid, NODE)
            check('floodgate_upstream_source_items{source="%s"}' % src in b.metrics(),
                  "B's /metrics has a gauge of its own for %s" % src)
            check(b.metric("floodgate_upstream_source_updates_total", source=src) >= 1,
                  "B's /metrics counts the updates from %s" % src)
            check(b.metric("floodgate_upstream_source_items",
                           source="file:%s" % listfile) >= 1,
                  "B's /metrics counts the list file's items on their own")

            with open(listfile, "a") as f:
                f.write("later.example\n")
            b.proc.send_signal(signal.SIGHUP)
            check(wait_for_sync(lambda: verdict_logged(srv, "later.example"), 5),
                  "an edit of the list is picked up on SIGHUP")
            for fg in (a, b):
                rc = fg.stop()
                check(rc == 0, "%s exits 0 (%s)" % (fg.name, rc))
                for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                    check(name not in fg.log_text(), "%s: no %s report" % (fg.name, name))
        except BaseException:
            srv.dump_log()
            a.dump_log()
            b.dump_log()
            raise
        finally:
            b.stop()
            a.stop()
            srv.stop()
    print("PASS test_upstream")


def wait_for_sync(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


if __name__ == "__main__":
    main()
