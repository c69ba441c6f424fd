#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""floodgated's component link under hostile stanzas, and its capacity.

    /usr/bin/python3 bench/bench_hostile.py [--build LABEL=BUILDDIR ...]
        [--max-size 4m] [--reps N] [--gates N] [--no-sizes] [--no-capacity]

Run against builds without sanitizers (LABEL=BUILDDIR holds floodgated;
default: this=./build). A scripted XEP-0114 server (tests/integration/
fgtest/xep114.py) stands in for Prosody, so the bench sends what no real
server would route. Not run by make check.

a. Per-stanza time against size: one hostile <message> of S bytes (text
   of line breaks, nesting, empty siblings, attributes), sent in batches
   of about 1 MB (256 copies of 1 KB ... one of 1 MB), then one small
   gate; the time from the first byte sent to the gate's answer, minus
   the median round trip of a gate alone, per KB. The per-KB cost should
   be flat: the ratio of the largest size's to the smallest's is printed
   (goal <= 2). [component] max-stanza-size is raised to 64m so all sizes
   are parsed; nesting past max-depth, siblings past the children limit
   and attributes past the attribute limit are dropped (answered with
   policy-violation) while parsing goes on. Then the same at the default
   limit (512 KiB): bigger stanzas close the stream.
b. Capacity: N gates from N distinct accounts, written back to back by
   one thread while another counts the answers; answers per second and
   floodgated's RSS before and after. Medians over --reps rounds.
"""
import argparse
import os
import platform
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from fgtest import Workdir, daemon  # noqa: E402
from fgtest.xep114 import ScriptedServer  # noqa: E402

SIZES = [1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20]
MSG = ("<message from='x@example.org' to='floodgate.example.org' id='%s'>"
       "%s</message>")


def payload(kind, size):
    if kind == "text":
        return "<body>" + "\n" * size + "</body>"
    if kind == "nesting":
        n = size // 7
        return "<a>" * n + "</a>" * n
    if kind == "siblings":
        return "<a/>" * (size // 4)
    if kind == "attributes":
        n = size // 10
        return "<x " + " ".join("a%06d=''" % i for i in range(n)) + "/>"
    raise ValueError(kind)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def gate_rtt(peer, reps):
    ts = []
    for i in range(reps):
        t = time.perf_counter()
        if peer.gate("rt%d" % i, "rtt%d@example.org" % i) is None:
            raise RuntimeError("no answer to a gate")
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


class Rig:
    def __init__(self, wd, label, builddir, sections=None):
        os.environ["top_builddir"] = builddir
        self.srv = ScriptedServer()
        self.fg = daemon.Floodgated(wd, self.srv, name="fg-" + label, verbose=False,
                                    sections=sections)
        self.fg.start(wait_link=False)
        self.peer = self.srv.peer(10)
        if self.peer is None or not self.fg.wait_healthy(10):
            raise RuntimeError("%s: no link" % label)
        self.seq = 0

    def reconnect(self):
        self.peer.close()
        self.peer = self.srv.peer(70)

    def close(self):
        self.fg.stop()
        self.peer.close()
        self.srv.close()


def one(rig, kind, size, timeout, copies):
    rig.seq += 1
    gid = "after%d" % rig.seq
    body = payload(kind, size)
    data = ("".join(MSG % ("h%d_%d" % (rig.seq, i), body) for i in range(copies)) +
            rig.peer.gate_xml(gid, "b%d@example.org" % rig.seq)).encode()
    t = time.perf_counter()
    try:
        rig.peer.send(data)
    except OSError:
        pass
    ans = rig.peer.answer(gid, timeout)
    dt = time.perf_counter() - t
    if ans is None:
        closed = rig.peer.wait_closed(1)
        rig.reconnect()
        return None, "closed" if closed else "timeout"
    return dt, "ok"


def sizes_table(wd, label, builddir, args, max_size):
    sections = {"component": {"max-stanza-size": max_size}} if max_size else None
    rig = Rig(wd, label + ("-" + max_size if max_size else "-default"), builddir,
              sections)
    base = gate_rtt(rig.peer, 50)
    print("\n[%s] max-stanza-size %s; gate round trip alone %.1f us (median of 50)"
          % (label, max_size or "default (512k)", base * 1e6))
    print("%-11s" % "kind" + "".join("%12s" % human(s) for s in SIZES) + "   ratio")
    # main dies on deep nesting (stack overflow): text and siblings only
    kinds = ("text", "siblings") if args.limit_main else \
        ("text", "nesting", "siblings", "attributes")
    for kind in kinds:
        row, per = [], []
        for s in SIZES:
            if args.limit_main and s > args.limit_main:
                row.append("%12s" % "-")
                continue
            ts, what = [], "ok"
            # small stanzas go in batches of about 1 MB: one round trip's
            # jitter is larger than the cost of one 1 KB stanza
            copies = max(1, min(256, (1 << 20) // s))
            for _ in range(args.reps if s < (1 << 20) else max(1, args.reps // 2)):
                dt, what = one(rig, kind, s, args.timeout, copies)
                if dt is None:
                    break
                ts.append(max(dt - base, 0.0) / copies)
            if not ts:
                row.append("%12s" % what)
                continue
            m = statistics.median(ts)
            per.append(m / (s / 1024.0))
            row.append("%9.2f us" % (m / (s / 1024.0) * 1e6))
        ratio = per[-1] / per[0] if len(per) > 1 and per[0] > 0 else float("nan")
        print("%-11s" % kind + "".join(row) + "   %.2f" % ratio)
    rss = rss_kb(rig.fg.pid)
    rig.close()
    print("(us per KB of stanza, median; ratio = largest size / smallest; "
          "RSS at the end %d KB)" % rss)


def capacity(wd, label, builddir, n, reps):
    rig = Rig(wd, label + "-cap", builddir)
    peer = rig.peer
    rates, rss0 = [], rss_kb(rig.fg.pid)
    for r in range(reps):
        chunks, batch = [], []
        for i in range(n):
            batch.append(peer.gate_xml("c%d_%d" % (r, i), "u%d_%d@example.org" % (r, i)))
            if len(batch) == 10000:
                chunks.append("".join(batch).encode())
                batch = []
        if batch:
            chunks.append("".join(batch).encode())
        got = [0]

        def reader():
            tail = b""
            sock = peer.sock
            sock.settimeout(60)
            while got[0] < n:
                d = sock.recv(1 << 20)
                if not d:
                    return
                buf = tail + d
                got[0] += buf.count(b"</iq>") - tail.count(b"</iq>")
                tail = buf[-4:]
        th = threading.Thread(target=reader)
        t = time.perf_counter()
        th.start()
        for c in chunks:
            peer.sock.sendall(c)
        th.join(300)
        dt = time.perf_counter() - t
        if got[0] < n:
            print("[%s] capacity round %d: only %d of %d answers" % (label, r, got[0], n))
            break
        rates.append(n / dt)
    rss1 = rss_kb(rig.fg.pid)
    rig.close()
    if rates:
        print("[%s] %d gates from distinct accounts: median %.0f answers/s over %d "
              "rounds (%s); RSS %d KB before, %d KB after" %
              (label, n, statistics.median(rates), len(rates),
               ", ".join("%.0f" % x for x in rates), rss0, rss1))


def human(s):
    return "%d KB" % (s >> 10) if s < (1 << 20) else "%d MB" % (s >> 20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", default=[],
                    help="LABEL=BUILDDIR with a release floodgated")
    ap.add_argument("--max-size", default="64m")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--gates", type=int, default=1000000)
    ap.add_argument("--cap-reps", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--no-sizes", action="store_true")
    ap.add_argument("--no-capacity", action="store_true")
    ap.add_argument("--main-sizes-upto", type=int, default=1 << 20,
                    help="largest size tried on a build labelled main (bytes)")
    args = ap.parse_args()
    builds = [b.split("=", 1) for b in args.build] or \
        [["this", os.path.join(HERE, "..", "build")]]
    print("command: %s" % " ".join([sys.executable] + sys.argv))
    print("machine: %s, %s, %d CPUs, Python %s" % (
        platform.node(), platform.platform(), os.cpu_count(), platform.python_version()))
    with open("/proc/cpuinfo") as f:
        model = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    print("cpu: %s" % (model[0] if model else "?"))
    with Workdir("bench-hostile") as wd:
        for label, bd in builds:
            args.limit_main = args.main_sizes_upto if label == "main" else 0
            if not args.no_sizes:
                # main has no max-stanza-size key: its sizes are unlimited
                sizes_table(wd, label, bd, args,
                            None if label == "main" else args.max_size)
                if label != "main":
                    sizes_table(wd, label, bd, args, None)
            if not args.no_capacity:
                capacity(wd, label, bd, args.gates, args.cap_reps)


if __name__ == "__main__":
    main()
