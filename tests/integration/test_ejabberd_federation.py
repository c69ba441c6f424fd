#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Scenario B with ejabberd 23.01 as the receiving server.

Prosody (prosody.test, s2s on 127.0.0.4) sends an invitation wave over
real s2s to ejabberd (ejabberd.test, s2s on 127.0.0.5), which runs
mod_floodgate with floodgated attached; floodgated serves ejabberd.test
only, with domain.inbound-subscribe = 10/min burst 10. s2s runs without
TLS, authenticated by dialback in both directions; Prosody finds ejabberd
through a hosts file of the test's own (libunbound), ejabberd finds
Prosody through a small name server of the test's own (ERL_INETRC), see
fgtest/federation.py. This is the module's inbound path:
s2s_receive_packet, its gates and its cached domain verdicts.

- alice@prosody.test and bob@ejabberd.test become mutual contacts before
  the wave;
- 30 accounts of prosody.test each send subscription requests to 2
  distinct users of ejabberd.test (60 in all): at most the burst (plus
  what the rate refills) reaches the recipients, counted at the
  recipients; the rest are refused back over s2s, the senders see the
  errors;
- the daemon's store ends with prosody.test quarantined, its audit log
  shows the way there went through throttle;
- alice and bob keep chatting both ways during the wave and after it;
- once the quarantine is pushed to ejabberd.test, further invitations
  from prosody.test are refused by mod_floodgate from its cache without
  asking the daemon (floodgate_gates_total does not move), a message from
  prosody.test to a stranger on ejabberd.test is refused, and alice, a
  contact, still talks to bob.

Exit 0 on pass, 77 when floodgated is not built or ejabberd 23.01 or
Prosody is not installed.
"""
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, daemon, wave  # noqa: E402
from fgtest.client import run  # noqa: E402
from fgtest.federation import prosody_and_ejabberd, skip_unless_installed, stage  # noqa: E402

# Not 127.0.0.2/.3: test_federation.py binds those, and make -j check runs
# both at once. Names under .test, which libunbound answers by itself (a
# special-use domain): Prosody's SRV lookup then fails at once instead of
# waiting some 17 s for the name server that does not exist.
A, B = ("prosody.test", "127.0.0.4"), ("ejabberd.test", "127.0.0.5")


def pushed(b):
    rx = re.compile(r"floodgate: %s: domain %s -> (\w+)" % (re.escape(B[0]), re.escape(A[0])))
    return rx.findall(b.log_text())


def main():
    skip_unless_installed()
    with Workdir("ejabberd-federation") as wd:
        # Both sides know both names: Prosody from its hosts file, ejabberd
        # from the name server (its dialback check dials prosody.test back).
        ns, a, b = prosody_and_ejabberd(wd, A, B)
        fg = daemon.Floodgated(os.path.join(wd, "fg"), b, limits=wave.LIMITS)
        with stage([a, b], [fg], ns):
            ns.start()
            a.start()
            t = time.monotonic()
            b.start()
            print("ejabberd %s up with mod_floodgate (module_install) in %.1f s; "
                  "s2s on %s:5269, Prosody's on %s:5269"
                  % (b.node, time.monotonic() - t, B[1], A[1]))
            t = time.monotonic()
            a.register_many([(u, "pw") for u in wave.accounts_a()])
            b.register_many([(u, "pw") for u in wave.accounts_b()])
            print("registered %d + %d accounts in %.1f s"
                  % (len(wave.accounts_a()), len(wave.accounts_b()), time.monotonic() - t))
            fg.start()
            check(b.wait_log("verdict cache for %s loaded" % b.domain, timeout=15, since_start=True),
                  "mod_floodgate fetched the verdict set from floodgated")
            r = {}
            t = time.monotonic()
            run(wave.scenario(a, b, fg, pushed, r), timeout=150)
            scenario_secs = time.monotonic() - t
            wave.settle_store(fg, A[0], r)
            # A gate that timed out would have let its invitation through
            # (fail open): say so, the counts would not be the daemon's.
            print("gate failures logged by mod_floodgate: %d; ejabberd asked the name server %s"
                  % (b.log_text().count("floodgate: gate "), sorted(set(q for q, _ in ns.queries))))
            print("scenario took %.1f s" % scenario_secs)
            wave.report_and_check(r, a, b)
    print("PASS test_ejabberd_federation")


if __name__ == "__main__":
    main()
