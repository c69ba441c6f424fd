#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A trap hit from an ejabberd peer, over real s2s.

Prosody a.test (127.0.0.43) runs mod_floodgate with floodgated attached,
[detect.traps] jids = trap@a.test; ejabberd 23.01 c.test (127.0.0.44) is
a stock peer (dialback, no TLS; names from the test's own hosts file and
name server, fgtest/federation.py).

- spam1@c.test writes a spam text with a link to trap@a.test: refused,
  and spam1@c.test is quarantined (the account, not c.test);
- spam2@c.test sends the same text to alice@a.test, a real user: refused
  on its first try;
- the same link in another text from spam3@c.test: refused too;
- carol@c.test, who has nothing to do with it, still writes to alice.

Exit 0 on pass, 77 when floodgated, Prosody or ejabberd 23.01 is
missing.
"""
import os
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, daemon  # noqa: E402
from fgtest.client import run, send_and_see  # noqa: E402
from fgtest.federation import prosody_and_ejabberd, skip_unless_installed, stage  # noqa: E402

# addresses of their own: other federation tests may run at the same time
A, C = ("a.test", "127.0.0.43"), ("c.test", "127.0.0.44")
SPAM = "Limited offer!!! cheap watches at https://watches.example/deal now"
SAME_LINK = "hello, look: https://watches.example/deal"
WAIT = 8  # s for a message to arrive or be refused over s2s


def main():
    skip_unless_installed()
    with Workdir("remote-trap") as wd:
        ns, a, c = prosody_and_ejabberd(wd, A, C, prosody_kw={"floodgate": True})
        fg = daemon.Floodgated(os.path.join(wd, "fg"), a,
                               sections={"detect.traps": {"jids": "trap@" + A[0]}})
        with stage([a, c], [fg], ns):
            ns.start()
            a.start()
            c.start()
            a.register_many([(u, "pw") for u in ("alice", "trap")])
            c.register_many([(u, "pw") for u in ("spam1", "spam2", "spam3", "carol")])
            fg.start()

            r = run(send_and_see(c, "carol", a, "alice", "hi alice, carol here", timeout=WAIT),
                    timeout=60)
            check(r == "delivered", "carol@c.test reaches alice@a.test over s2s (%s)" % r)
            r = run(send_and_see(c, "spam1", a, "trap", SPAM, timeout=WAIT), timeout=30)
            check(r == "policy-violation", "spam1@c.test's spam to the trap is refused (%s)" % r)
            check(fg.verdict_of("spam1@c.test") == "quarantine",
                  "the trap hit quarantined spam1@c.test")
            check(fg.verdict_of("c.test") == "allow", "and left c.test alone")
            r = run(send_and_see(c, "spam2", a, "alice", SPAM, timeout=WAIT), timeout=30)
            check(r == "policy-violation", "the same text from spam2@c.test to a real user is "
                  "refused on its first try (%s)" % r)
            r = run(send_and_see(c, "spam3", a, "alice", SAME_LINK, timeout=WAIT), timeout=30)
            check(r == "policy-violation", "the same link in another text is refused (%s)" % r)
            r = run(send_and_see(c, "carol", a, "alice", "lunch at noon?", timeout=WAIT), timeout=30)
            check(r == "delivered", "carol@c.test still writes to alice (%s)" % r)
            denied = fg.metric("floodgate_gates_total", result="deny")
            check(denied == 3, "the three refusals were the daemon's gate answers (%d of %d)"
                  % (denied, fg.metric("floodgate_gates_total")))
            fg.stop_clean()
    print("PASS test_remote_trap")


if __name__ == "__main__":
    main()
