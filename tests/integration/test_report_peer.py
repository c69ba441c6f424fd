#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""One floodgate's report reaches another floodgate, where it weighs by
the reporting server's standing.

Prosody a.test (s2s on 127.0.0.33) and ejabberd 23.01 c.test (s2s on
127.0.0.34) each run their bridge module with a floodgated attached.
c.test advertises its own floodgate, xmpp:floodgate.c.test, as its abuse
address (mod_disco server_info, XEP-0157). s2s runs without TLS,
authenticated by dialback, names from fgtest/federation.py.

- an admin of a.test blocks dave@c.test (floodgatectl): a.test's
  floodgate sends a XEP-0377 report to floodgate.c.test, whose floodgate
  adds peer-report (weight.report x a.test's standing, 1: 4) to its local
  account dave@c.test;
- the same report again (an unblock and a block) sends nothing more;
- c.test's admin quarantines the domain a.test: a.test's next report, on
  erin@c.test, is received and weighs nothing.

Exit 0 on pass, 77 when floodgated is not built or ejabberd 23.01 or
Prosody is not installed.
"""
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon, ejabberd  # noqa: E402
from fgtest.federation import (FederatedEjabberd, FederatedProsody, NameServer,  # noqa: E402
                               write_resolver)
from fgtest.prosody import PROSODY  # noqa: E402

# Not .2-.5 or .31/.32: other federation tests bind those.
A, C = ("a.test", "127.0.0.33"), ("c.test", "127.0.0.34")


def ctl(fg, *args):
    argv = [os.path.join(top_builddir(), "floodgatectl"), args[0], "-c", fg.config] + list(args[1:])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    print("$ floodgatectl(%s) %s -> %d %s%s" % (fg.server.domain, " ".join(args), r.returncode,
                                               r.stdout[:300], r.stderr))
    return r


def inspect(fg, jid):
    r = ctl(fg, "inspect", "--json", jid)
    try:
        return json.loads(r.stdout)
    except ValueError:
        return {}


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    if not ejabberd.available():
        skip("ejabberd 23.01 not installed (no %s/ejabberd-23.01*)" % ejabberd.EJ_LIB)
    if not os.path.exists(PROSODY):
        skip("prosody not installed")
    with Workdir("report-peer") as wd:
        ns = NameServer([A, C, ("floodgate." + A[0], A[1]), ("floodgate." + C[0], C[1])])
        unbound = write_resolver(wd, [A, C])
        a = FederatedProsody(os.path.join(wd, A[0]), A[0], A[1], unbound, floodgate=True)
        c = FederatedEjabberd(os.path.join(wd, C[0]), C[0], C[1], ns,
                              modules={"mod_disco": {"server_info": [
                                  {"modules": "all", "name": "abuse-addresses",
                                   "urls": ["xmpp:floodgate.c.test"]}]}})
        fga = daemon.Floodgated(os.path.join(wd, "fga"), a, sections={
            "control": {"socket": os.path.join(wd, "fga", "ctl.sock")}})
        fgc = daemon.Floodgated(os.path.join(wd, "fgc"), c, sections={
            "control": {"socket": os.path.join(wd, "fgc", "ctl.sock")}})
        try:
            ns.start()
            a.start()
            c.start()
            c.register_many([(u, "pw") for u in ("dave", "erin")])
            fga.start()
            fgc.start()
            r = ctl(fga, "block", "dave@c.test", "spam", "run")
            check(r.returncode == 0, "a.test's admin blocks dave@c.test")
            m = fgc.wait_log(r"report on dave@c\.test from the server floodgate\.a\.test", 20)
            check(m is not None, "c.test's floodgate got a.test's report on dave")
            check(fga.metric("floodgate_reports_sent_total") == 1,
                  "a.test's floodgate sent one report")
            time.sleep(0.5)
            d = inspect(fgc, "dave@c.test")
            check("peer-report" in d.get("signals", ""),
                  "dave@c.test carries peer-report at c.test (%s)" % d.get("signals"))
            check(3.9 < d.get("score", 0) < 4.1,
                  "a.test in good standing: the report weighs 4 (%s)" % d.get("score"))
            ctl(fga, "unblock", "dave@c.test")
            ctl(fga, "block", "dave@c.test", "again")
            time.sleep(2)
            check(fga.metric("floodgate_reports_sent_total") == 1,
                  "blocking dave again sends nothing more")
            r = ctl(fgc, "quarantine", "a.test", "reports", "too", "much")
            check(r.returncode == 0, "c.test's admin quarantines a.test")
            ctl(fga, "block", "erin@c.test", "spam")
            m = fgc.wait_log(r"report on erin@c\.test from the server floodgate\.a\.test", 20)
            check(m is not None, "c.test's floodgate got a.test's report on erin")
            time.sleep(0.5)
            e = inspect(fgc, "erin@c.test")
            check(e.get("score", 1) == 0,
                  "from a quarantined server the report weighs nothing (%s)" % e.get("score"))
            for fg in (fga, fgc):
                rc = fg.stop()
                check(rc == 0, "floodgated exits 0 (%s)" % rc)
                for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                    check(name not in fg.log_text(), "no %s report" % name)
        except BaseException:
            for s in (a, c):
                s.dump_log()
            fga.dump_log()
            fgc.dump_log()
            sys.stderr.write("name server queries: %s\n" % ns.queries[-20:])
            raise
        finally:
            fgc.stop()
            fga.stop()
            c.stop()
            a.stop()
            ns.stop()
    print("PASS test_report_peer")


if __name__ == "__main__":
    main()
