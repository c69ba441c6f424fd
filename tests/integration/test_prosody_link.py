#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""floodgated's XEP-0114 link against a real Prosody 0.12.

- disco#info and XEP-0199 ping to the component answer (slixmpp client);
- Prosody restarts on the same ports: floodgated reconnects and answers
  again within 5 s (the measured time is printed);
- a raw PLAIN login as "Alice" (account alice) is metered with the login
  as typed, and floodgated accepts every meter event the module sends;
- floodgated with a wrong secret: a clear log line about the handshake
  failure, the secret is not in the log, no crash.
"""
import os
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import RawSession, connect, disconnect_all, run  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

RECONNECT_MAX_S = 5.0


async def probe(srv, who="alice"):
    """disco#info + ping to the component; returns (identities, features, rtt)."""
    c = await connect(srv, who, "pw")
    try:
        info = await c.disco_info(srv.component_jid)
        ids = info["disco_info"]["identities"]
        feats = info["disco_info"]["features"]
        rtt = await c.ping(srv.component_jid)
        return ids, feats, rtt
    finally:
        await disconnect_all([c])


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("link") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv)
        bad = None
        try:
            srv.start()
            srv.register("alice", "pw")
            fg.start()

            ids, feats, rtt = run(probe(srv), timeout=30)
            print("disco#info identities: %s" % (ids,))
            print("disco#info features: %s" % (sorted(feats),))
            check(len(ids) > 0, "component disco#info has %d identit(y/ies)" % len(ids))
            check("urn:xmpp:ping" in feats, "component advertises urn:xmpp:ping")
            check(rtt is not None and rtt < 2.0, "XEP-0199 ping answered in %.1f ms" % (rtt * 1000))

            # The login as typed reaches the daemon in the meter stream
            # (bots log in as "Alice" for the account "alice").
            ok0 = fg.metric("floodgate_meter_events_total", result="ok")
            bad0 = fg.metric("floodgate_meter_events_total", result="bad")
            raw = RawSession(srv)
            try:
                bound = raw.login("Alice", "pw", resource="typed")
            finally:
                raw.close()
            check(bound is True, "raw PLAIN login as 'Alice' for account alice is bound")
            # (attribute order in Prosody's debug log varies)
            seen = srv.wait_log("login='Alice'", timeout=3)
            check(seen, "mod_floodgate meters the login as typed (login='Alice')")
            end = time.monotonic() + 3
            while time.monotonic() < end and \
                    fg.metric("floodgate_meter_events_total", result="ok") < ok0 + 4:
                time.sleep(0.1)
            got = fg.metric("floodgate_meter_events_total", result="ok") - ok0
            print("measured: floodgated accepted %g meter events from the raw login "
                  "(auth-ok, session-start, session-end, ...), %g bad"
                  % (got, fg.metric("floodgate_meter_events_total", result="bad") - bad0))
            check(got >= 3, "floodgated accepted the login's meter events")
            check(fg.metric("floodgate_meter_events_total", result="bad") == bad0,
                  "no meter event from the module was malformed")

            # Prosody restart: same ports, the daemon must come back on its own.
            srv.stop()
            down = time.monotonic()
            check(fg.running(), "floodgated survives Prosody going away")
            time.sleep(0.5)
            srv.start()
            up = time.monotonic()
            healthy = fg.wait_healthy(RECONNECT_MAX_S + 5)
            linked = time.monotonic() - up
            print("measured: Prosody down for %.2f s; floodgated link up %.2f s after "
                  "Prosody listened again" % (up - down, linked))
            check(healthy, "floodgated /healthz is 200 again after the restart")
            ids, feats, rtt = run(probe(srv), timeout=30)
            answered = time.monotonic() - up
            print("measured: reconnect time (Prosody up -> ping answered) %.2f s" % answered)
            check(answered <= RECONNECT_MAX_S,
                  "reconnected and answering within %.0f s (%.2f s)" % (RECONNECT_MAX_S, answered))

            # Wrong secret: fails clearly, keeps the secret out of the log, survives.
            rc = fg.stop()
            check(rc == 0, "floodgated exits 0 on SIGTERM (got %s)" % rc)
            secret = "Wr0ng-s3cret-%d" % os.getpid()
            bad = daemon.Floodgated(os.path.join(wd, "fg-bad"), srv, secret=secret, name="bad")
            bad.start(wait_link=False)
            m = bad.wait_log(r"(?i)[^\n]*handshake[^\n]*", timeout=8)
            line = m.group(0) if m else None
            print("handshake failure log line: %r" % line)
            check(line is not None, "a log line about the handshake failure")
            time.sleep(2.5)  # let it retry at least once
            log = bad.log_text()
            check(secret not in log, "the secret does not appear in the log (%d bytes)" % len(log))
            check(bad.running(), "floodgated still running after the refused handshake")
            code, _ = bad.healthz()
            check(code != 200, "/healthz is not 200 while the link is refused (got %s)" % code)
            srv_log = srv.log_text()
            check(secret not in srv_log, "the secret does not appear in Prosody's log either")
            rc = bad.stop()
            check(rc == 0, "no crash: exit status %s after SIGTERM" % rc)
            for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                check(name not in bad.log_text(), "no %s report" % name)
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            if bad is not None:
                bad.dump_log()
            raise
        finally:
            if bad is not None:
                bad.stop()
            fg.stop()
            srv.stop()
    print("PASS test_prosody_link")


if __name__ == "__main__":
    main()
