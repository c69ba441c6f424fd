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

# addresses of their own: other federation tests may run at the same time
A, C = ("a.test", "127.0.0.43"), ("c.test", "127.0.0.44")
SPAM = "Limited offer!!! cheap watches at https://watches.example/deal now"
SAME_LINK = "hello, look: https://watches.example/deal"


def verdict_of(fg, subject):
    argv = [os.path.join(top_builddir(), "floodgatectl"), "inspect", "-c", fg.config,
            "--json", subject]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return json.loads(r.stdout).get("effective")


async def send(c_srv, a_srv, user, to, body, timeout=8):
    """user@c.test sends body to to@a.test: 'delivered', the refusal
    condition, or 'nothing'."""
    s = await connect(c_srv, user, "pw")
    r = await connect(a_srv, to, "pw")
    try:
        s.message("%s@%s" % (to, A[0]), body)

        def seen():
            return any(m[1] == body for m in r.messages)
        await wait_until(lambda: seen() or bool(s.errors), timeout)
        if s.errors:
            return s.errors[0][2]
        return "delivered" if seen() else "nothing"
    finally:
        await disconnect_all([s, r], wait=0.1)


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    if not ejabberd.available():
        skip("ejabberd 23.01 not installed (no %s/ejabberd-23.01*)" % ejabberd.EJ_LIB)
    if not os.path.exists(PROSODY):
        skip("prosody not installed")
    with Workdir("remote-trap") as wd:
        ns = NameServer([A, C])
        unbound = write_resolver(wd, [A, C])
        a = FederatedProsody(os.path.join(wd, A[0]), A[0], A[1], unbound, floodgate=True)
        c = FederatedEjabberd(os.path.join(wd, C[0]), C[0], C[1], ns)
        fg = daemon.Floodgated(os.path.join(wd, "fg"), a,
                               sections={"detect.traps": {"jids": "trap@" + A[0]}})
        try:
            ns.start()
            a.start()
            c.start()
            a.register_many([(u, "pw") for u in ("alice", "trap")])
            c.register_many([(u, "pw") for u in ("spam1", "spam2", "spam3", "carol")])
            fg.start()

            r = run(send(c, a, "carol", "alice", "hi alice, carol here"), timeout=60)
            check(r == "delivered", "carol@c.test reaches alice@a.test over s2s (%s)" % r)
            r = run(send(c, a, "spam1", "trap", SPAM), timeout=30)
            check(r == "policy-violation", "spam1@c.test's spam to the trap is refused (%s)" % r)
            check(verdict_of(fg, "spam1@c.test") == "quarantine",
                  "the trap hit quarantined spam1@c.test")
            check(verdict_of(fg, "c.test") == "allow", "and left c.test alone")
            r = run(send(c, a, "spam2", "alice", SPAM), timeout=30)
            check(r == "policy-violation", "the same text from spam2@c.test to a real user is "
                  "refused on its first try (%s)" % r)
            r = run(send(c, a, "spam3", "alice", SAME_LINK), timeout=30)
            check(r == "policy-violation", "the same link in another text is refused (%s)" % r)
            r = run(send(c, a, "carol", "alice", "lunch at noon?"), timeout=30)
            check(r == "delivered", "carol@c.test still writes to alice (%s)" % r)
            denied = fg.metric("floodgate_gates_total", result="deny")
            check(denied == 3, "the three refusals were the daemon's gate answers (%d of %d)"
                  % (denied, fg.metric("floodgate_gates_total")))
            rc = fg.stop()
            check(rc == 0, "floodgated exits 0 (%s)" % rc)
            for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                check(name not in fg.log_text(), "no %s report" % name)
        except BaseException:
            for s in (a, c):
                s.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            c.stop()
            a.stop()
            ns.stop()
    print("PASS test_remote_trap")


if __name__ == "__main__":
    main()
