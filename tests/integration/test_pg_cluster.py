#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Two floodgated instances on one PostgreSQL store, serving a two-node
ejabberd 23.01 cluster.

Node A (127.0.0.1) and node B (127.0.0.2) are joined with
`ejabberdctl join_cluster`; instance 1 is the component of node A,
instance 2 of node B, both with the same component JID and the same
[store] backend = postgresql on a throwaway cluster (initdb/pg_ctl
under the test's directory, as nobody when run as root, on a free
loopback port, stopped by pid). ejabberd routes a node's gate questions
to the component connected to that node while there is one, else to
the other (ejabberd_router's default for several routes of a domain).

Measured and checked:
  1. a bot flooding invitations on node A is quarantined by instance 1;
     its contact-free invitations through node B are refused within 1 s
     of node A's quarantine (instance 2 learns it by NOTIFY);
  2. an admin unblock on instance 2 lifts it on node A within 1 s;
  3. instance 1 acknowledges an admin block and is killed with SIGKILL
     at once: node A's gates are answered by instance 2 within 5 s, and
     the block is in force on both nodes (nothing acknowledged is lost);
  4. PostgreSQL is restarted while gates and admin actions keep coming:
     gates are answered from memory while it is down, every admin action
     acknowledged before, during or after is in the database afterwards,
     those refused during the outage said why, and both instances write
     what they queued once it is back.

Exit 0 on pass, 1 on failure, 77 when floodgated, ejabberd or PostgreSQL
is missing.
"""
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest import ejabberd as ej  # noqa: E402
from fgtest import pgcluster  # noqa: E402
from fgtest.client import connect, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.ejcluster import cluster_pair, stop_all  # noqa: E402

N_FLOOD = 30       # invitations the bot sends on node A
BURST = 10         # account.subscribe burst
PROPAGATE_S = 1.0  # a verdict change reaches the other node within this
FAILOVER_S = 5.0   # node A's gates answered by instance 2 within this
N_ADMIN = 40       # admin actions around the PostgreSQL restart
N_LOAD = 20        # accounts sending invitations meanwhile

TS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)([+-]\d\d:\d\d)", re.M)


def ctl_binary():
    return os.path.join(top_builddir(), "floodgatectl")


def ctl(fg, *args):
    argv = [ctl_binary(), args[0], "-c", fg.config] + list(args[1:])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return r


def log_time_now(srv, needle):
    """Wall-clock time (s) of the first ejabberd log line with needle
    since the node started, or None."""
    for line in srv.log_text(since_start=True).splitlines():
        if needle in line:
            m = TS.match(line)
            if m:
                return datetime.fromisoformat(m.group(1) + m.group(2)).timestamp()
    return None


async def log_time(srv, needle, timeout):
    """log_time_now, waiting up to timeout without blocking the clients'
    event loop."""
    end = time.monotonic() + timeout
    while True:
        t = log_time_now(srv, needle)
        if t is not None or time.monotonic() >= end:
            return t
        await asyncio.sleep(0.02)


def instance(work, name, srv, pg):
    return daemon.Floodgated(
        os.path.join(work, name), srv, name=name,
        limits={"account.subscribe": "%d/min burst %d" % (BURST, BURST)},
        sections={"store": {"backend": "postgresql", "dsn": pg.dsn,
                            "password-file": pg.password_file}})


async def quarantine_propagates(a, b, figures):
    d = a.domain
    bot_a = await connect(a, "bot", "pw", resource="on-a")
    bot_b = await connect(b, "bot", "pw", resource="on-b")
    targets = await connect_many(a, ["r%02d" % i for i in range(N_FLOOD)])
    strangers = await connect_many(b, ["s%02d" % i for i in range(20)])
    for t in targets:
        bot_a.subscribe(t.boundjid.bare)
    t_a = await log_time(a, "account bot@%s -> quarantine" % d, 20)
    check(t_a is not None, "instance 1 quarantined the bot flooding node A")
    # probe through node B every 50 ms until one is refused
    refused_at = None
    for s in strangers:
        bot_b.subscribe(s.boundjid.bare)
        await asyncio.sleep(0.05)
        pv = [e for e in bot_b.errors if e[0] == "presence" and e[2] == "policy-violation"]
        if pv:
            refused_at = time.time()
            break
    check(refused_at is not None, "the bot's invitations through node B are refused")
    t_b = await log_time(b, "account bot@%s -> quarantine" % d, 5)
    figures["quarantine_push_a_to_b_s"] = round(t_b - t_a, 3) if t_b else None
    figures["quarantine_refused_on_b_after_s"] = round(refused_at - t_a, 3)
    print("quarantine on node A at %.3f; node B's module told %.3f s later; first "
          "refusal through node B %.3f s later" % (t_a, (t_b or 0) - t_a, refused_at - t_a))
    check(refused_at - t_a <= PROPAGATE_S,
          "refused through node B within %.1f s of the quarantine on node A (%.3f s)"
          % (PROPAGATE_S, refused_at - t_a))
    await disconnect_all([bot_a, bot_b] + targets + strangers)


async def unblock_lifts(a, fg2, figures):
    d = a.domain
    # each run() has its own event loop: the clients of the last are gone
    bot_a = await connect(a, "bot", "pw", resource="on-a")
    u = await connect(a, "u00", "pw")
    t0 = time.time()
    r = ctl(fg2, "unblock", "bot@" + d)
    print("$ floodgatectl unblock bot@%s (instance 2) -> %d %s%s"
          % (d, r.returncode, r.stdout.strip(), r.stderr.strip()))
    check(r.returncode == 0, "instance 2 acknowledged the unblock")
    t_a = await log_time(a, "account bot@%s -> allow" % d, 10)
    check(t_a is not None, "node A's module was told the bot is allowed again")
    figures["unblock_on_2_lifted_on_a_s"] = round(t_a - t0, 3)
    print("unblock on instance 2 reached node A in %.3f s" % (t_a - t0))
    check(t_a - t0 <= PROPAGATE_S, "the unblock on instance 2 lifted it on node A within "
          "%.1f s (%.3f s)" % (PROPAGATE_S, t_a - t0))
    bot_a.subscribe(u.boundjid.bare)
    ok = await wait_until(lambda: ("bot@" + d) in u.subscriptions, 5)
    check(ok, "the bot's next invitation on node A is delivered")
    await disconnect_all([bot_a, u])


async def failover(a, b, fg1, fg2, figures):
    d = a.domain
    r = ctl(fg1, "block", "evil@" + d, "acknowledged just before the crash")
    check(r.returncode == 0, "instance 1 acknowledged a block of evil@%s" % d)
    fg1.kill()
    t_kill = time.monotonic()
    print("instance 1 killed (SIGKILL) right after acknowledging the block")
    probe = await connect(a, "probe", "pw")
    gates0 = fg2.metric("floodgate_policy_gates_total")
    answered = None
    i = 0
    while time.monotonic() - t_kill < 15 and answered is None:
        tgt = await connect(a, "t%02d" % i, "pw")
        probe.subscribe(tgt.boundjid.bare)
        if await wait_until(lambda: ("probe@" + d) in tgt.subscriptions, 0.5, step=0.02) and \
                fg2.metric("floodgate_policy_gates_total") > gates0:
            answered = time.monotonic() - t_kill
        await disconnect_all([tgt], wait=0)
        i += 1
    figures["failover_s"] = round(answered, 3) if answered is not None else None
    check(answered is not None and answered <= FAILOVER_S,
          "node A's gates answered by instance 2 within %.0f s of the kill (%s s)"
          % (FAILOVER_S, figures["failover_s"]))
    r = ctl(fg2, "inspect", "evil@" + d)
    print("$ floodgatectl inspect evil@%s (instance 2):\n%s" % (d, r.stdout))
    check(r.returncode == 0 and "block" in r.stdout,
          "the block acknowledged by the killed instance is in force on instance 2")
    t_b = await log_time(b, "account evil@%s -> block" % d, 5)
    check(t_b is not None, "instance 2 pushed the block to node B")
    try:
        evil = await connect(a, "evil", "pw", timeout=5)
        evil.abort()
        in_session = True
    except RuntimeError:
        in_session = False
    check(not in_session, "the blocked account cannot open a session on node A")
    await disconnect_all([probe])


async def load(srv, stop):
    """Gate traffic while PostgreSQL restarts: invitations to strangers
    from N_LOAD accounts, each well within its rate (one every 2 s), so
    that none earns a verdict and every invitation is a gate question."""
    d = srv.domain
    cs = await connect_many(srv, ["l%02d" % i for i in range(N_LOAD)])
    n = 0
    while not stop.is_set():
        for i, c in enumerate(cs):
            c.subscribe("t%02d@%s" % ((i * 7 + n) % 100, d))
            await asyncio.sleep(2.0 / len(cs))
        n += 1
    await disconnect_all(cs)
    return n * len(cs)


def outage(pg, fgs, figures):
    """PostgreSQL down for 2 s; the gates each instance answered
    meanwhile."""
    pg.down()
    g0 = [fg.metric("floodgate_policy_gates_total") for fg in fgs]
    time.sleep(2)
    g1 = [fg.metric("floodgate_policy_gates_total") for fg in fgs]
    pg.up()
    figures["gates_during_outage"] = int(sum(g1) - sum(g0))


def admin_through_restart(pg, fgs, d, figures):
    """Admin actions while PostgreSQL goes down and comes back."""
    acked, refused, why = [], [], set()
    restart = None
    after = 0  # acknowledged once the restart is over
    i = 0
    while i < N_ADMIN or after < 5:
        if i == N_ADMIN // 4:
            restart = threading.Thread(target=outage, args=(pg, fgs, figures))
            restart.start()
        if i >= 3 * N_ADMIN:
            break
        fg = fgs[i % len(fgs)]
        jid = "v%03d@%s" % (i, d)
        r = ctl(fg, "quarantine", jid, "admin action %d" % i)
        if r.returncode == 0:
            acked.append(jid)
            after += restart is not None and not restart.is_alive()
        else:
            refused.append(jid)
            why.add((r.stdout + r.stderr).strip())
        time.sleep(0.15)
        i += 1
    restart.join()
    figures.update(admin_acked=len(acked), admin_refused=len(refused))
    print("admin actions: %d acknowledged, %d refused during the outage" % (len(acked), len(refused)))
    for w in sorted(why)[:3]:
        print("  refused: %s" % w)
    return acked, refused, why


def main():
    if not daemon.available():
        skip("floodgated not built (%s)" % daemon.binary())
    if not ej.available():
        skip("ejabberd 23.01 not installed")
    if not pgcluster.available():
        skip("PostgreSQL not installed (scripts/deps.sh installs it)")
    work = tempfile.mkdtemp(prefix="fg-pg-cluster-")
    pg = a = b = fg1 = fg2 = None
    ok = False
    figures = {}
    try:
        pg = pgcluster.PgCluster(work)
        t = time.monotonic()
        a, b = cluster_pair(os.path.join(work, "ejabberd"))
        print("ejabberd cluster %s + %s up in %.1fs; PostgreSQL on port %d"
              % (a.node, b.node, time.monotonic() - t, pg.port))
        check(b.node in " ".join(a.cluster_nodes()), "node B is in node A's cluster")
        users = (["bot", "evil", "probe", "u00"] + ["r%02d" % i for i in range(N_FLOOD)]
                 + ["s%02d" % i for i in range(20)] + ["t%02d" % i for i in range(100)]
                 + ["l%02d" % i for i in range(N_LOAD)])
        a.register_many((u, "pw") for u in users)
        fg1 = instance(work, "fg1", a, pg)
        fg2 = instance(work, "fg2", b, pg)
        fg1.start()
        fg2.start()
        check(a.wait_log("verdict cache for %s loaded" % a.domain, timeout=20) and
              b.wait_log("verdict cache for %s loaded" % b.domain, timeout=20),
              "each node's mod_floodgate loaded the verdict set from its instance")
        d = a.domain

        run(quarantine_propagates(a, b, figures), timeout=120)
        run(unblock_lifts(a, fg2, figures), timeout=60)
        run(failover(a, b, fg1, fg2, figures), timeout=120)

        # instance 1 comes back and loads the shared state
        fg1 = instance(work, "fg1", a, pg)
        fg1.start()
        r = ctl(fg1, "inspect", "evil@" + d)
        check(r.returncode == 0 and "block" in r.stdout,
              "a restarted instance 1 loads the block from the shared store")

        stop = threading.Event()
        box = {}
        th = threading.Thread(target=lambda: box.update(n=run(load(b, stop), timeout=300)))
        th.start()
        try:
            acked, refused, why = admin_through_restart(pg, [fg1, fg2], d, figures)
        finally:
            stop.set()
            th.join()
        figures["load_invitations"] = box.get("n")
        check(figures.get("gates_during_outage", 0) > 0,
              "gates answered from memory while PostgreSQL was down (%s)"
              % figures.get("gates_during_outage"))
        check(fg1.wait_healthy(15) and fg2.wait_healthy(15),
              "both instances healthy again after the PostgreSQL restart")
        rows = {r[0] for r in pg.query("SELECT key FROM subjects WHERE override = 'quarantine'")}
        lost = [j for j in acked if j not in rows]
        check(not lost, "no acknowledged admin action lost (%d acknowledged, %d in the "
              "database, lost: %s)" % (len(acked), len(rows & set(acked)), lost))
        check(all("not committed" in w for w in why),
              "admin actions refused during the outage said they were not committed")
        for fg in (fg1, fg2):
            q = fg.metric("floodgate_store_queued_rows")
            check(q == 0, "%s wrote its queued rows once PostgreSQL was back (%d queued)"
                  % (fg.name, q))
        with open(pg.password_file) as f:
            secret = f.read().strip()
        check(all(secret not in fg.log_text() for fg in (fg1, fg2)),
              "the database password appears in no floodgated log")
        print("figures: %s" % " ".join("%s=%s" % kv for kv in figures.items()))
        ok = True
    except Exception:  # noqa: BLE001 - report and fail
        traceback.print_exc()
        for n in (a, b):
            if n:
                n.dump_log(60)
        for fg in (fg1, fg2):
            if fg:
                fg.dump_log(60)
    finally:
        for fg in (fg1, fg2):
            if fg:
                fg.stop()
        stop_all(b, a)
        if pg:
            pg.stop()
    if ok:
        shutil.rmtree(work, ignore_errors=True)
        print("PASS")
        return 0
    print("FAIL (files kept in %s)" % work)
    return 1


if __name__ == "__main__":
    sys.exit(main())
