#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Hostile pubsub requests through a real Prosody, from slixmpp clients on
hosts floodgate does not serve (so they are remote to it):

- with no [blocklist] section, a remote user may neither read
  spam_source_ips (blocked client addresses) nor subscribe to the hashed
  JID node: the default is the served domains and the listed peers only;
- items with max_items on nodes nothing was published on are answered
  (empty) and the daemon lives on;
- with access = open, the users of a.evil.test and b.evil.test share one
  budget of 16 subscriptions per node (their registrable domain is
  evil.test), and the served domain still subscribes afterwards.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import disconnect_all, run  # noqa: E402
from fgtest.pubsub import ProsodyPlus, connect_jid, items, subscribe  # noqa: E402

NODES = ["spam_source_domains", "spam_source_jids_sha256", "spam_source_ips",
         "muc_bans_sha256"]
PER_DOMAIN = 16  # PS_SUBS_PER_DOMAIN
PER_HOST = 10    # subscriptions tried from each evil subdomain


async def default_access(srv, fg):
    svc = srv.component_jid
    bob = await connect_jid(srv, "bob@other.test", "pw")
    alice = await connect_jid(srv, "alice@" + srv.domain, "pw")
    try:
        _, _, err = await items(bob, svc, "spam_source_ips")
        check(err == "forbidden", "a remote user reading spam_source_ips: %s" % err)
        err = await subscribe(bob, svc, "spam_source_jids_sha256")
        check(err == "forbidden", "a remote user subscribing to hashed JIDs: %s" % err)
        for node in NODES:
            ids, _, err = await items(alice, svc, node, max_items=5)
            check(err is None and ids == [],
                  "max_items on the empty %s: %s %s" % (node, err, ids))
        check(fg.running(), "floodgated still runs")
        _, _, err = await items(alice, svc, "spam_source_ips")
        check(err is None, "a served user still reads (%s)" % err)
    finally:
        await disconnect_all([bob, alice])


async def subscriber_caps(srv, fg):
    svc = srv.component_jid
    node = "spam_source_domains"
    a = await connect_jid(srv, "bot@a.evil.test", "pw")
    b = await connect_jid(srv, "bot@b.evil.test", "pw")
    alice = await connect_jid(srv, "alice@" + srv.domain, "pw")
    try:
        errs = []
        for c in (a, b):
            for i in range(PER_HOST):
                errs.append(await subscribe(c, svc, node,
                                            jid="%s/r%d" % (c.boundjid.bare, i)))
        ok = errs.count(None)
        print("measured: %d of %d subscriptions from *.evil.test accepted (%s)"
              % (ok, len(errs), sorted(set(e or "ok" for e in errs))))
        check(ok == PER_DOMAIN, "a.evil.test and b.evil.test share %d places (%d)"
              % (PER_DOMAIN, ok))
        check(set(errs) <= {None, "not-allowed"}, "refusals are not-allowed")
        err = await subscribe(alice, svc, node)
        check(err is None, "the served domain's user still subscribes (%s)" % err)
        check(fg.metric("floodgate_pubsub_refused_total", reason="subscribers")
              == 2 * PER_HOST - PER_DOMAIN, "refusals counted on /metrics")
    finally:
        await disconnect_all([a, b, alice])


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("pubsub-hostile") as wd:
        srv = ProsodyPlus(os.path.join(wd, "prosody"),
                          extra_hosts=["other.test", "a.evil.test", "b.evil.test"])
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               admins=["admin@" + srv.domain])
        fg_open = daemon.Floodgated(os.path.join(wd, "fg-open"), srv,
                                    admins=["admin@" + srv.domain],
                                    sections={"blocklist": {"access": "open"}})
        try:
            srv.start()
            srv.register("alice", "pw")
            srv.register_on("bob", "other.test", "pw")
            srv.register_on("bot", "a.evil.test", "pw")
            srv.register_on("bot", "b.evil.test", "pw")
            fg.start()
            run(default_access(srv, fg), timeout=60)
            rc = fg.stop()
            check(rc == 0, "floodgated exits 0 (%s)" % rc)
            fg_open.start()
            run(subscriber_caps(srv, fg_open), timeout=60)
            rc = fg_open.stop()
            check(rc == 0, "floodgated (access = open) exits 0 (%s)" % rc)
            for d in (fg, fg_open):
                for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                    check(name not in d.log_text(), "no %s report" % name)
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            fg_open.dump_log()
            raise
        finally:
            fg.stop()
            fg_open.stop()
            srv.stop()
    print("PASS test_pubsub_hostile")


if __name__ == "__main__":
    main()
