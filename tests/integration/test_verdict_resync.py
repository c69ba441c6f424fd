#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A large verdict set reaches the server module intact.

A full set of 1,500 verdicts does not fit in one stanza under Prosody's
component stanza limit (512 KiB), so floodgated sends it in chunks: the
first marked full, the rest as ordinary consecutive pushes. Checked:

- after floodgated starts with 1,500 quarantines in its store, the link
  stays up (no stream error, no reconnect loop) and mod_floodgate has
  every entry (its log counts them);
- quarantined accounts are refused locally, without a gate question;
- after Prosody restarts (its cache is gone) the module asks for the set
  again and gets all of it.
"""
import asyncio
import os
import re
import sqlite3
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.client import connect, disconnect_all, run  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

N = 1500
REAL = ["q0", "q1", "q2", "q3", "q4"]


def seed_store(db, domain):
    con = sqlite3.connect(db)
    now = int(time.time() * 1000)
    rows = [("account", "bulk%04d@%s" % (i, domain)) for i in range(N - len(REAL))]
    rows += [("account", "%s@%s" % (u, domain)) for u in REAL]
    con.executemany(
        "INSERT INTO subjects (type, key, score, score_at, verdict, expires, override,"
        " actor, reason, updated) VALUES (?, ?, 0, ?, 'allow', 0, 'quarantine',"
        " 'test', 'seeded', ?)", [(t, k, now, now) for t, k in rows])
    con.commit()
    con.close()


def cache_size(srv):
    """Entries the module holds: the last full set plus the pushes after
    it, as its log reports them."""
    text = srv.log_text(since_start=True)
    fulls = list(re.finditer(r"Verdict cache replaced by the full set \(seq (\d+), (\d+) entries[,;)]",
                             text))
    if not fulls:
        return 0
    last = fulls[-1]
    n = int(last.group(2))
    n += len(re.findall(r"Verdict account \S+: quarantine", text[last.end():]))
    return n


async def refused_locally(srv, fg):
    gates0 = fg.metric("floodgate_gates_total")
    cs = [await connect(srv, u, "pw") for u in REAL]
    try:
        for i, c in enumerate(cs):
            c.subscribe("stranger%d@%s" % (i, srv.domain))
        end = time.monotonic() + 5
        while time.monotonic() < end and sum(len(c.errors) for c in cs) < len(cs):
            await asyncio.sleep(0.1)
        refused = sum(1 for c in cs if c.errors_with("policy-violation"))
    finally:
        await disconnect_all(cs)
    return refused, fg.metric("floodgate_gates_total") - gates0


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return pred()


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("resync") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"), log_level="info")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv)
        try:
            srv.start()
            srv.register_many([(u, "pw") for u in REAL])
            fg.start()
            fg.stop()
            seed_store(fg.db, srv.domain)
            fg.start()
            check(wait_for(lambda: cache_size(srv) >= N, 15),
                  "mod_floodgate holds all %d verdicts after the on-connect push (%d)"
                  % (N, cache_size(srv)))
            check(fg.metric("floodgate_link_connects_total") == 1,
                  "one handshake: no stream error, no reconnect loop")
            check("stanza" not in srv.log_text(since_start=True).lower().split("error")[0]
                  or fg.healthz()[0] == 200, "link healthy")
            refused, asked = run(refused_locally(srv, fg), timeout=60)
            check(refused == len(REAL), "%d of %d quarantined accounts refused"
                  % (refused, len(REAL)))
            check(asked == 0, "refused by the module's cache, without asking (%d gates)" % asked)

            srv.stop()
            srv.start()
            check(fg.wait_healthy(15), "floodgated back on the restarted Prosody")
            check(wait_for(lambda: cache_size(srv) >= N, 15),
                  "after a Prosody restart the module has all %d verdicts again (%d)"
                  % (N, cache_size(srv)))
            refused, asked = run(refused_locally(srv, fg), timeout=60)
            check(refused == len(REAL) and asked == 0,
                  "still refused locally after the resync (%d refused, %d gates)"
                  % (refused, asked))
            check(fg.stop() == 0, "clean exit")
        except Exception:
            fg.dump_log()
            srv.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS test_verdict_resync")


if __name__ == "__main__":
    main()
