#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A real Prosody 0.12 MUC with Debian's mod_muc_rtbl (legacy
muc_rtbl_jid / muc_rtbl_node) configured against floodgate's
muc_bans_sha256.

- a user of a domain floodgate blocks cannot join a room (forbidden);
  after the unblock it can;
- Prosody restarts: mod_muc_rtbl subscribes at start, before floodgate is
  connected again, and never retries; floodgate's full push on reconnect
  to its persisted subscriber keeps the ban in force.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import disconnect_all, muc_join, run  # noqa: E402
from fgtest.pubsub import ProsodyPlus, connect_jid, publish  # noqa: E402

ROOMS = "rooms.fg.test"
ROOM = "lobby@" + ROOMS
NODE = "spam_source_domains"


async def try_join(srv, jid, nick, timeout=5, keep=False):
    """'joined', or the error condition of the join (and the client when
    keep is set: the caller leaves)."""
    c = await connect_jid(srv, jid, "pw")
    r = await muc_join(c, ROOM, nick, timeout)
    if keep:
        return r, c
    await disconnect_all([c])
    return r


async def spammer_join(srv):
    """The spammer's join while alice holds the room (an empty room is
    destroyed, and whoever creates it again owns it: mod_muc_rtbl skips
    affiliated users)."""
    r, alice = await try_join(srv, "alice@" + srv.domain, "alice", keep=True)
    try:
        check(r == "joined", "alice holds %s (%s)" % (ROOM, r))
        return await try_join(srv, "spammer@spam.test", "spammer")
    finally:
        await disconnect_all([alice])


async def admin_list(srv, domain, retract=False):
    admin = await connect_jid(srv, "admin@" + srv.domain, "pw")
    try:
        return await publish(admin, srv.component_jid, NODE, domain, retract=retract)
    finally:
        await disconnect_all([admin])


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    if not os.path.exists("/usr/lib/prosody/modules/mod_muc_rtbl/mod_muc_rtbl.lua"):
        skip("mod_muc_rtbl (prosody-modules) not installed")
    with Workdir("rtbl-muc") as wd:
        srv = ProsodyPlus(os.path.join(wd, "prosody"), extra_hosts=["spam.test"],
                          extra_components=[
                              'Component "%s" "muc"\n'
                              '  modules_enabled = { "muc_rtbl" }\n'
                              '  muc_rtbl_jid = "floodgate.fg.test"\n'
                              '  muc_room_locking = false\n' % ROOMS])
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv, admins=["admin@" + srv.domain])
        try:
            srv.start()
            srv.register("admin", "pw")
            srv.register("alice", "pw")
            srv.register_on("spammer", "spam.test", "pw")
            fg.start()
            # mod_muc_rtbl subscribed at Prosody's start, when floodgate
            # was not there: reload it now that it is (what an operator
            # who starts floodgate second does once).
            srv.shell('module:reload("muc_rtbl", "%s")' % ROOMS)
            m = fg.wait_log(r"pubsub: %s subscribed to muc_bans_sha256" % ROOMS, 5)
            check(m is not None, "mod_muc_rtbl subscribed to muc_bans_sha256")

            err = run(admin_list(srv, "spam.test"), timeout=30)
            check(err is None, "floodgate blocks the domain spam.test (%s)" % err)
            time.sleep(0.3)
            r = run(spammer_join(srv), timeout=30)
            check(r == "forbidden", "spammer@spam.test cannot join (%s)" % r)

            # restart Prosody: the module's subscribe fails at start
            srv.restart()
            if not fg.wait_healthy(15):
                raise RuntimeError("floodgate did not reconnect")
            time.sleep(0.5)
            check("Failed to subscribe to RTBL" in srv.log_text(since_start=True),
                  "after the restart mod_muc_rtbl's own subscribe failed (startup order)")
            r = run(spammer_join(srv), timeout=30)
            check(r == "forbidden",
                  "the ban survives the restart through the on-connect push (%s)" % r)

            err = run(admin_list(srv, "spam.test", retract=True), timeout=30)
            check(err is None, "floodgate unblocks spam.test (%s)" % err)
            time.sleep(0.3)
            r = run(spammer_join(srv), timeout=30)
            check(r == "joined", "after the unblock spammer@spam.test joins (%s)" % r)
            fg.stop_clean()
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS test_rtbl_muc")


if __name__ == "__main__":
    main()
