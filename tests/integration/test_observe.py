#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Observe mode against a real Prosody and a real floodgated.

[policy] mode = observe. Six bots send the same spam link to strangers,
round-robin, three times (the wave that test_alerts.py shows enforce
mode quarantining), and one more bot floods 30 invitations past
account.subscribe = 10/min burst 10. Expected:
- every spam message and every invitation is delivered, no bot sees an
  error;
- no verdict reaches Prosody's module;
- `floodgatectl list --would` shows each bot as would-quarantine (or
  worse), plain `list` marks them the same way;
- /metrics counts the refusals that enforce mode would have made.
Then mode = enforce and floodgatectl reload: a new flooder is refused
and its quarantine pushed, while the verdicts observed before stay
observed (nothing pushed for the bots).
"""
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

NBOTS = 6
ROUNDS = 3
FLOOD = 30
SPAM = "Great offer!!! visit http://cheap-pills.example/buy now"


def ctl(config, *args):
    argv = [os.path.join(top_builddir(), "floodgatectl"), args[0], "-c", config] + list(args[1:])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    print("$ floodgatectl %s -> %d\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
    return r


async def scenario(srv, r):
    d = srv.domain
    bots = await connect_many(srv, ["bot%d" % i for i in range(NBOTS)])
    inviter = await connect(srv, "inviter", "pw")
    strangers = await connect_many(srv, ["s%02d" % i for i in range(ROUNDS * NBOTS)])
    targets = await connect_many(srv, ["t%02d" % i for i in range(FLOOD)])
    clients = bots + [inviter] + strangers + targets
    try:
        for rnd in range(ROUNDS):
            for i, b in enumerate(bots):
                b.message("s%02d@%s" % (ROUNDS * i + rnd, d), SPAM)
        for i in range(FLOOD):
            inviter.subscribe("t%02d@%s" % (i, d))

        def delivered():
            return (sum(1 for s in strangers for f, _ in s.messages if f.startswith("bot")),
                    sum(1 for t in targets if "inviter@" + d in t.subscriptions))
        await wait_until(lambda: delivered() == (ROUNDS * NBOTS, FLOOD), 20)
        time.sleep(1.5)  # late refusals, meter batches
        r["delivered"] = delivered()
        r["errors"] = [e for c in bots + [inviter] for e in c.errors]
    finally:
        await disconnect_all(clients)


async def enforce_phase(srv, r):
    d = srv.domain
    late = await connect(srv, "late", "pw")
    targets = await connect_many(srv, ["t%02d" % i for i in range(FLOOD)])
    try:
        for i in range(FLOOD):
            late.subscribe("t%02d@%s" % (i, d))
        await wait_until(lambda: len(late.errors) + sum(
            1 for t in targets if "late@" + d in t.subscriptions) >= FLOOD, 20)
        time.sleep(1.0)
        r["late_delivered"] = sum(1 for t in targets if "late@" + d in t.subscriptions)
        r["late_errors"] = sorted({e[2] for e in late.errors})
    finally:
        await disconnect_all([late] + targets)


def main():
    ctlbin = os.path.join(top_builddir(), "floodgatectl")
    if not daemon.available() or not os.access(ctlbin, os.X_OK):
        skip("floodgated or floodgatectl not built in %s" % top_builddir())
    with Workdir("observe") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        sock = os.path.join(wd, "fg", "ctl.sock")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               limits={"account.subscribe": "10/min burst 10"},
                               sections={"control": {"socket": sock},
                                         "policy": {"mode": "observe"}})
        d = srv.domain
        try:
            srv.start()
            users = ["bot%d" % i for i in range(NBOTS)] + ["inviter", "late"] + \
                ["s%02d" % i for i in range(ROUNDS * NBOTS)] + \
                ["t%02d" % i for i in range(FLOOD)]
            srv.register_many([(u, "pw") for u in users])
            fg.start()
            r = {}
            run(scenario(srv, r), timeout=120)
            print("delivered: %d spam messages, %d invitations; errors %s"
                  % (r["delivered"][0], r["delivered"][1], r["errors"]))
            check(r["delivered"] == (ROUNDS * NBOTS, FLOOD),
                  "observe mode delivers the whole wave (%s)" % (r["delivered"],))
            check(r["errors"] == [], "no bot saw an error")
            pushed = re.findall(r"Verdict account (\S+): (\w+)", srv.log_text())
            check(pushed == [], "no verdict reached Prosody (%s)" % pushed)
            would = ctl(fg.config, "list", "--would")
            check(would.returncode == 0, "floodgatectl list --would succeeds")
            rows = {}
            for line in would.stdout.splitlines():
                f = line.split()
                if len(f) >= 3 and f[0] == "account":
                    rows[f[1]] = f[2]
            for i in range(NBOTS):
                jid = "bot%d@%s" % (i, d)
                check(rows.get(jid) in ("would-quarantine", "would-block"),
                      "list --would shows %s (%s)" % (jid, rows.get(jid)))
            check(rows.get("inviter@" + d) in ("would-throttle", "would-quarantine"),
                  "list --would shows the inviter (%s)" % rows.get("inviter@" + d))
            plain = ctl(fg.config, "list")
            check("would-quarantine" in plain.stdout, "plain list marks observed verdicts")
            wq = fg.metric("floodgate_would_refuse_total", verdict="quarantine")
            wt = fg.metric("floodgate_would_refuse_total", verdict="throttle")
            print("would refuse: quarantine %g, throttle %g" % (wq, wt))
            check(wq >= NBOTS, "would-quarantine refusals counted (%g)" % wq)
            # the inviter's over-limit invitations: throttle, then
            # quarantine once its score got there
            check(wt > 0 and wt + wq >= FLOOD - 10,
                  "would-throttle refusals counted (%g)" % wt)
            check(fg.metric("floodgate_gates_total", result="deny") == 0,
                  "no gate answered deny")

            # a week later: enforce
            fg.sections["policy"]["mode"] = "enforce"
            fg.write_config()
            check(ctl(fg.config, "reload").returncode == 0, "floodgatectl reload succeeds")
            run(enforce_phase(srv, r), timeout=60)
            print("enforce: late's invitations delivered %d, refusals %s"
                  % (r["late_delivered"], r["late_errors"]))
            check(r["late_delivered"] <= 10 and r["late_errors"],
                  "after the switch a flood is refused (%d delivered)" % r["late_delivered"])
            pushed = re.findall(r"Verdict account (\S+): (\w+)", srv.log_text())
            check(any(j == "late@" + d for j, _ in pushed),
                  "the new flooder's verdict reached Prosody (%s)" % pushed)
            check(not any(j.startswith("bot") for j, _ in pushed),
                  "the verdicts observed before the switch stay observed")
            would = ctl(fg.config, "list", "--would")
            check("bot0@" + d in would.stdout and "late@" not in would.stdout,
                  "list --would still shows the bots, not the new flooder")
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS test_observe")


if __name__ == "__main__":
    main()
