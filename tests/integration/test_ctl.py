#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""floodgatectl against the running floodgated (real Prosody).

- the control socket exists with mode 0660;
- every online subcommand (inspect, list, block, unblock, quarantine,
  allowlist, stats, reload) in text and --json, with the exit codes:
  0 ok, 1 refused / not found, 2 usage or bad input;
- a block by floodgatectl reaches the server at once (the account's
  invitation is refused) and an unblock lifts it (the next one is
  delivered); the audit names the actor "ctl:USER";
- daemon down: exit code 3.
"""
import asyncio
import getpass
import json
import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect, disconnect_all, run, wait_until, invite  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402


def ctl_binary():
    return os.path.join(top_builddir(), "floodgatectl")


class Ctl:
    def __init__(self, config):
        self.config = config

    def __call__(self, *args, expect=None):
        argv = [ctl_binary(), args[0], "-c", self.config] + list(args[1:])
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        print("$ floodgatectl %s -> %d\n%s%s" % (" ".join(args), r.returncode,
              r.stdout, ("stderr: " + r.stderr) if r.stderr else ""))
        if expect is not None:
            check(r.returncode == expect, "floodgatectl %s exits %d (got %d)"
                  % (" ".join(args), expect, r.returncode))
        return r

    def json(self, *args, expect=0):
        r = self(args[0], "--json", *args[1:], expect=expect)
        return json.loads(r.stdout)


def verdicts(srv, jid):
    return re.findall(r"Verdict account %s: (\w+)" % re.escape(jid), srv.log_text())


def main():
    if not daemon.available() or not os.access(ctl_binary(), os.X_OK):
        skip("floodgated or floodgatectl not built in %s" % top_builddir())
    with Workdir("ctl") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        sock = os.path.join(wd, "fg", "ctl.sock")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               sections={"control": {"socket": sock}})
        ctl = Ctl(fg.config)
        d = srv.domain
        me = getpass.getuser()
        try:
            srv.start()
            srv.register_many([("alice", "pw"), ("bob", "pw"), ("carol", "pw"),
                               ("dave", "pw")])
            fg.start()

            st = os.stat(sock)
            check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660,
                  "control socket %s has mode 0660 (%o)" % (sock, stat.S_IMODE(st.st_mode)))

            # stats and an empty list
            r = ctl("stats", expect=0)
            check("gates" in r.stdout, "stats prints the gate counter")
            j = ctl.json("stats")
            check(j["ok"] and "listed_block" in j["stats"], "stats --json has listed_block")
            check(re.search(r"^version\s+\S+", r.stdout, re.M) and j.get("version"),
                  "stats names the daemon's version (%s)" % j.get("version"))
            j = ctl.json("list")
            check(j["count"] == 0, "nothing listed at start")

            # usage errors and bad input: exit 2
            ctl("block", "alice@" + d, expect=2)             # no reason
            ctl("block", "--bogus", "alice@" + d, "x", expect=2)
            ctl("inspect", expect=2)                          # no subject
            r = ctl("block", "a@@" + d, "bad", expect=2)
            check("not a valid" in r.stderr, "a bad JID is named in the error")
            ctl("quarantine", "-f", "soon", "alice@" + d, "x", expect=2)
            ctl("list", "maybe", expect=2)
            # refused / not found: exit 1
            r = ctl("block", d, "our own domain", expect=1)
            check("serves" in r.stderr, "blocking the served domain is refused with a reason")
            ctl("quarantine", "192.0.2.0/24", "a whole net", expect=1)
            r = ctl("unblock", "carol@" + d, expect=1)
            check("nothing to lift" in r.stderr, "unblock of a clean account says nothing to lift")
            r = ctl("inspect", "nobody@" + d, expect=1)
            check("nothing on record" in r.stdout, "inspect of an unknown subject says so")

            # block and quarantine: pushed to the server at once
            ctl("block", "-f", "1h", "dave@" + d, "bot", "wave", expect=0)
            ok = run(wait_until(lambda: (verdicts(srv, "dave@" + d) or [""])[-1] == "block", 5))
            check(ok, "the block reached Prosody (%s)" % verdicts(srv, "dave@" + d))
            try:
                run(connect(srv, "dave", "pw"), timeout=20)
                refused = False
            except RuntimeError:
                refused = True
            check(refused, "a blocked account cannot log in")
            j = ctl.json("inspect", "Dave@" + d.upper())
            check(j["effective"] == "block" and j["override"] == "block",
                  "inspect --json shows the block (%s)" % j["effective"])
            check(j["reason"] == "bot wave" and j["expires"] > 0, "with its reason and expiry")
            check(j["audit"] and j["audit"][0]["actor"] == "ctl:" + me,
                  "the audit names the actor ctl:%s" % me)
            r = ctl("inspect", "dave@" + d, expect=0)
            check("override block by ctl:%s: bot wave" % me in r.stdout,
                  "inspect text shows who blocked and why")

            ctl("quarantine", "alice@" + d, "probation", expect=0)
            ok = run(wait_until(lambda: (verdicts(srv, "alice@" + d) or [""])[-1] == "quarantine", 5))
            check(ok, "the quarantine reached Prosody")
            delivered, conds = run(invite(srv, "alice", "bob"), timeout=30)
            check(not delivered and "policy-violation" in conds,
                  "quarantined alice's invitation is refused (%s)" % conds)
            ctl("allowlist", "carol@" + d, "trusted", expect=0)
            j = ctl.json("list")
            keys = sorted((i["subject"], i["verdict"]) for i in j["items"])
            check(keys == [("alice@" + d, "quarantine"), ("dave@" + d, "block")],
                  "list shows the block and the quarantine (%s)" % keys)
            j = ctl.json("list", "quarantine")
            check([i["subject"] for i in j["items"]] == ["alice@" + d], "list quarantine filters")
            r = ctl("list", "-t", "domain", expect=0)
            check("0 listed" in r.stdout, "list -t domain is empty")
            j = ctl.json("list", "allowlist")
            items = [(i["subject"], i["override"], i["reason"]) for i in j["items"]]
            check(items == [("carol@" + d, "allow", "trusted")],
                  "list allowlist shows the allowlisted account (%s)" % items)
            ctl("list", "allow", expect=2)

            # unblock: the next invitation is delivered
            ctl("unblock", "alice@" + d, "false", "positive", expect=0)
            ok = run(wait_until(lambda: (verdicts(srv, "alice@" + d) or [""])[-1] == "allow", 5))
            check(ok, "the unblock reached Prosody")
            delivered, conds = run(invite(srv, "alice", "bob"), timeout=30)
            check(delivered and not conds, "after unblock alice's invitation is delivered")
            ctl("unblock", "carol@" + d, expect=0)   # lifts the allowlist

            # reload keeps state
            ctl("reload", expect=0)
            j = ctl.json("inspect", "dave@" + d)
            check(j["effective"] == "block", "state kept across reload")
            # -s SOCKET works too
            r = subprocess.run([ctl_binary(), "stats", "-s", sock], capture_output=True,
                               text=True, timeout=30)
            check(r.returncode == 0, "-s SOCKET reaches the daemon")

            # daemon down: 3
            rc = fg.stop()
            check(rc == 0, "floodgated exits 0 (%s)" % rc)
            check(not os.path.exists(sock), "the socket is removed on shutdown")
            ctl("stats", expect=3)
            ctl("block", "alice@" + d, "x", expect=3)
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
    print("PASS test_ctl")


if __name__ == "__main__":
    main()
