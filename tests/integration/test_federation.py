#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Scenario B: an invitation wave from a remote domain, over real s2s.

Two Prosody servers federate on loopback (a.test on 127.0.0.2, b.test on
127.0.0.3, dialback without TLS, names from a hosts file of the test's own
through libunbound). floodgated serves b.test only, with
domain.inbound-subscribe = 10/min burst 10; mod_floodgate runs on b.test.

- alice@a.test and bob@b.test become mutual contacts before the wave;
- 30 accounts of a.test each send subscription requests to 2 distinct
  users of b.test (60 in all): at most the burst (plus what the rate
  refills) reaches the recipients, counted at the recipients; the rest
  are refused back over s2s;
- the daemon's store ends with a.test quarantined, its audit log shows the
  way there went through throttle;
- alice and bob keep chatting both ways during the wave and after it;
- once the quarantine is pushed to b.test, further invitations from a.test
  are refused by mod_floodgate from its cache without asking the daemon
  (floodgate_gates_total does not move), and alice, a contact, still
  talks to bob while a message of hers to a stranger on b.test is refused.

Exit 0 on pass, 77 when floodgated is not built.
"""
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, skip, wave  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import run  # noqa: E402
from fgtest.federation import federated_pair  # noqa: E402

A, B = ("a.test", "127.0.0.2"), ("b.test", "127.0.0.3")


def pushed(b):
    return re.findall(r"Verdict domain %s: (\w+)" % re.escape(A[0]), b.log_text())


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("federation") as wd:
        a, b = federated_pair(wd, A, B, floodgate_on=(B[0],))
        fg = daemon.Floodgated(os.path.join(wd, "fg"), b, limits=wave.LIMITS)
        try:
            a.start()
            b.start()
            t = time.monotonic()
            a.register_many([(u, "pw") for u in wave.accounts_a()])
            b.register_many([(u, "pw") for u in wave.accounts_b()])
            print("registered %d + %d accounts in %.1f s"
                  % (len(wave.accounts_a()), len(wave.accounts_b()), time.monotonic() - t))
            fg.start()
            r = {}
            run(wave.scenario(a, b, fg, pushed, r), timeout=180)
            wave.settle_store(fg, A[0], r)
            wave.report_and_check(r, a, b)
        except BaseException:
            for s in (a, b):
                s.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            b.stop()
            a.stop()
    print("PASS test_federation")


if __name__ == "__main__":
    main()
