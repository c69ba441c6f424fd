#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Prosody with mod_floodgate: gate latency and message throughput.

    top_builddir=BUILD /usr/bin/python3 bench/bench_prosody.py [--gates N]
        [--messages N] [--rounds R] [--skip-gates] [--servers plain,floodgate,firewall]
        [--no-pin] [--gc generational|incremental] [--preload N]

Use a build without sanitizers. Not run by make check.

a. Gate round trip, module -> floodgated -> module, measured inside
   mod_floodgate (floodgate_measure = true: util.time.monotonic() around the
   send_iq wait, kept in a ring, read through the admin shell). One client
   session sends N messages to a non-contact, so every one is gated (the
   session's async runner waits for each answer: these are round trips,
   not queueing); [limits] account.stranger-message = off, so all are
   allowed and delivered, which the receiver checks.

b. Message throughput between two mutual contacts on three Prosody 0.12
   servers running side by side: plain, with mod_floodgate loaded (and
   floodgated connected, metering every message), and with mod_firewall
   running one per-sender %RATE rule (bench/firewall_rate.pfw) that never
   triggers. A raw-socket sender writes M <message type='chat'/> stanzas
   at once; a raw-socket receiver counts them; the rate is taken at the
   receiver from its first read to the M-th message. Rounds are
   interleaved (the order rotates every round); medians and ratios to the
   plain server are printed, and beside them Prosody's CPU time per
   message (scheduler nanoseconds, /proc/PID/task/*/schedstat).

With --preload N, before measuring, the floodgate server's verdict cache
is filled through the real daemon: N remote accounts blocked by an admin
(one control-socket request each, as floodgatectl block sends it) and N
domains of an operator list blocked through floodgatectl import; the
module's cache sizes are printed (admin shell, floodgate_cache()).

On a machine with two or more CPUs every Prosody runs pinned to CPU 0 and
the bench, its clients and floodgated to CPU 1 (--no-pin to turn off):
unpinned, the load client and Prosody shared time slices and single rounds
moved by 30% on a shared 2-CPU VM.
"""
import argparse
import re
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from fgtest import Workdir, daemon  # noqa: E402
from fgtest.client import RawSession, connect, disconnect_all, run  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

DOMAIN = "fg.test"
PFW = os.path.join(HERE, "firewall_rate.pfw")
NEEDLE = b"</message>"


# -- raw clients ------------------------------------------------------------------

class Raw:
    """A logged-in raw session; a thread reads everything and counts the
    stanzas that end in </message> (and the error ones among them)."""

    def __init__(self, srv, user, presence=False):
        self.rs = RawSession(srv, timeout=10)
        ok = self.rs.login(user, "pw", resource="bench")
        if ok is not True:
            raise RuntimeError("login %s failed: %r" % (user, ok))
        self.sock = self.rs.sock
        self.sock.settimeout(0.2)
        self.count = 0
        self.errors = 0
        self.first = None  # (monotonic, count) at the first read with a message
        self.last = None   # monotonic of the last read that added messages
        self.closed = False
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        if presence:
            self.sock.sendall(b"<presence/>")

    def _read(self):
        tail = b""
        k = len(NEEDLE) - 1
        while not self.closed:
            try:
                chunk = self.sock.recv(1 << 18)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            data = tail + chunk
            n = data.count(NEEDLE)
            if n:
                self.errors += data.count(b"type='error'") + data.count(b'type="error"')
                now = time.monotonic()
                self.count += n
                if self.first is None:
                    self.first = (now, self.count)
                self.last = now
                with self.cv:
                    self.cv.notify_all()
            tail = data[-k:]

    def reset(self):
        self.count, self.errors, self.first, self.last = 0, 0, None, None

    def rate(self, n):
        """messages/s from the first read to the n-th message."""
        if self.first is None or self.last is None or self.last <= self.first[0]:
            return float("nan")
        return (n - self.first[1]) / (self.last - self.first[0])

    def wait(self, n, timeout):
        with self.cv:
            return self.cv.wait_for(lambda: self.count >= n, timeout)

    def close(self):
        self.closed = True
        try:
            self.sock.sendall(b"</stream:stream>")
        except OSError:
            pass
        self.t.join(2)
        self.sock.close()


def blob(to, n, tag):
    return "".join("<message type='chat' to='%s' id='%s%d'><body>%s message %d</body></message>"
                   % (to, tag, i, tag, i) for i in range(n)).encode()


# -- setup ----------------------------------------------------------------------------

async def make_contacts(srv, u1, u2):
    a = await connect(srv, u1, "pw")
    b = await connect(srv, u2, "pw")
    try:
        ja, jb = "%s@%s" % (u1, srv.domain), "%s@%s" % (u2, srv.domain)
        a.subscribe(jb)
        b.subscribe(ja)
        for _ in range(100):
            if ja in b.subscriptions and jb in a.subscriptions:
                break
            await a.settle(0.05)
        a.approve(jb)
        b.approve(ja)
        await a.settle(0.5)
        return a.client_roster[jb]["subscription"], b.client_roster[ja]["subscription"]
    finally:
        await disconnect_all([a, b])


def pingpong(n=10000):
    """The floor any two-process round trip pays on this machine: one
    small message each way over a socketpair (no XMPP at all)."""
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        a.close()
        for _ in range(n):
            b.sendall(b.recv(64))
        os._exit(0)
    b.close()
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        a.sendall(b"x" * 40)
        a.recv(64)
        ts.append(time.perf_counter() - t)
    os.waitpid(pid, 0)
    a.close()
    ts.sort()
    return "baseline, two processes ping-ponging 40 bytes over a socketpair: p50_us=%.0f p99_us=%.0f" % (
        ts[n // 2] * 1e6, ts[int(n * 0.99)] * 1e6)


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        pv = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "prosody"],
                            capture_output=True, text=True).stdout.strip()
    except OSError:
        pv = "?"
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "?"
    return ("machine: %s\ncpu: %s, %d CPUs; load average %s\nprosody %s; python %s; floodgated %s"
            % (" ".join(platform.uname()), cpu, os.cpu_count() or 0, load, pv,
               platform.python_version(), daemon.binary()))


def timings(srv, reset=True):
    out = srv.shell('>prosody.hosts["%s"].modules.floodgate.floodgate_timings(%s)'
                    % (srv.domain, "true" if reset else "false"))
    for line in out.splitlines():
        if "gate round trips" in line:
            return line.strip().lstrip("|").strip()
    return out.strip()


# -- the measurements -------------------------------------------------------------------

def closed_loop(snd, rcv, n, tag):
    """Send n messages one at a time, each after the previous arrived;
    client-side send-to-receive times (s)."""
    rtt = []
    msgs = [("<message type='chat' to='gsink@%s' id='%s%d'><body>%s message %d</body></message>"
             % (DOMAIN, tag, i, tag, i)).encode() for i in range(n)]
    base = rcv.count
    for i, m in enumerate(msgs):
        t = time.monotonic()
        snd.sock.sendall(m)
        if not rcv.wait(base + i + 1, 5):
            raise RuntimeError("%s: message %d not delivered within 5 s" % (tag, i))
        rtt.append(time.monotonic() - t)
    return rtt


def bench_gates(srv, fg, n):
    # Closed loop, one message in flight: Prosody 0.12.3 pauses a session's
    # reads while its async runner waits (mod_c2s runner_callbacks) and
    # interface:resume() does not look at what luasocket already buffered,
    # so stanzas pipelined behind a gate wait can sit until the client
    # sends more bytes. One at a time avoids that and gives the client's
    # view of the latency too.
    snd = Raw(srv, "gsender")
    rcv = Raw(srv, "gsink", presence=True)
    try:
        time.sleep(0.3)
        closed_loop(snd, rcv, 500, "w")
        time.sleep(0.2)
        timings(srv, reset=True)
        g0 = fg.metric("floodgate_gates_total")
        h0 = daemon_hist(fg)
        # Without a pause, one gate of the first few hundred took 40-44 ms
        # in every run, in either GC mode, and never again: the aftermath
        # of the admin-shell session and metric fetches just made, not the
        # gate path (with the pause the slowest gate is 2.6-3.7 ms).
        time.sleep(1.0)
        t0 = time.monotonic()
        rtt = closed_loop(snd, rcv, n, "g")
        secs = time.monotonic() - t0
        time.sleep(0.3)
        line = timings(srv, reset=True)
        gates = fg.metric("floodgate_gates_total") - g0
        h1 = daemon_hist(fg)
        rtt.sort()
        client = "client send->receive: p50_us=%.0f p99_us=%.0f" % (
            rtt[len(rtt) // 2] * 1e6, rtt[min(len(rtt) - 1, int(len(rtt) * 0.99))] * 1e6)
        total = h1[-1][1] - h0[-1][1]
        if total > 0:
            client += "\n   floodgated's own time per gate (arrival to answer queued): " + ", ".join(
                "<=%s %.1f%%" % (le, 100.0 * (c1 - c0) / total)
                for (le, c0), (_, c1) in zip(h0, h1) if le != "+Inf")
        return len(rtt), rcv.errors, secs, gates, line, client
    finally:
        snd.close()
        rcv.close()


def daemon_hist(fg):
    """Cumulative (le, count) pairs of floodgated's gate-time histogram."""
    out = []
    for line in fg.metrics().splitlines():
        m = re.match(r'floodgate_gate_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            le = m.group(1)
            if le != "+Inf":
                le = "%gus" % (float(le) * 1e6)
            out.append((le, float(m.group(2))))
    return out or [("+Inf", 0.0)]


def cpu_seconds(pid):
    """CPU time of a process so far, seconds: the scheduler's nanosecond
    run time of each of its threads (/proc/PID/task/*/schedstat), where
    /proc/PID/stat would give 10 ms ticks."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # the thread ended meanwhile
    return total / 1e9


def pin(pid, cpus):
    """Pin every thread of pid to cpus."""
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            os.sched_setaffinity(int(tid), cpus)
        except OSError:
            pass


def one_round(srv, m, tag, cpu=None):
    """msg/s at the receiver; with a list in cpu, also appends Prosody's
    CPU microseconds per message, which other load on the machine moves
    far less than the rate."""
    snd = Raw(srv, "sender")
    rcv = Raw(srv, "receiver", presence=True)
    try:
        time.sleep(0.3)  # presence exchange settles before counting
        rcv.reset()
        c0 = cpu_seconds(srv.pid)
        snd.sock.sendall(blob("receiver@" + DOMAIN, m, tag))
        if not rcv.wait(m, 120):
            raise RuntimeError("%s: %d of %d messages delivered" % (tag, rcv.count, m))
        time.sleep(0.1)
        if rcv.count != m or rcv.errors:
            raise RuntimeError("%s: %d delivered (%d errors) for %d sent" % (tag, rcv.count, rcv.errors, m))
        if cpu is not None:
            cpu.append((cpu_seconds(srv.pid) - c0) / m * 1e6)
        return rcv.rate(m)
    finally:
        snd.close()
        rcv.close()


def ctl_request(sock, line):
    """One control-socket request (admin/control.h): the status line."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock)
        s.sendall(line.encode() + b"\n")
        out = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            out += d
    finally:
        s.close()
    return out.decode("utf-8", "replace").split("\n", 1)[0]


def preload_daemon(fg, sock, n, wd):
    """Block n remote accounts and import n listed domains through
    floodgated (bench_ejabberd.py does the same); the module's cache
    fills from the pushes."""
    for i in range(n):
        st = ctl_request(sock, "block\tsubject=bot%05d@jids.example\treason=bench preload" % i)
        if not st.startswith("2"):
            raise RuntimeError("block bot%05d@jids.example: %s" % (i, st))
    lst = os.path.join(wd, "list.txt")
    with open(lst, "w") as f:
        f.write("".join("spam%05d.example\n" % i for i in range(n)))
    ctl = os.path.join(os.path.dirname(daemon.binary()), "floodgatectl")
    r = subprocess.run([ctl, "import", "-c", fg.config, lst], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        raise RuntimeError("floodgatectl import: %s%s" % (r.stdout, r.stderr))


def preload(srv, fg, sock, n, wd):
    """n blocked remote accounts and n listed domains in srv's cache."""
    t = time.monotonic()
    preload_daemon(fg, sock, n, wd)
    want = "domain=%d remote=%d" % (n, n)
    line = ""
    for _ in range(600):
        line = srv.shell('>prosody.hosts["%s"].modules.floodgate.floodgate_cache()' % srv.domain)
        m = re.search(r"domain=(\d+) .*remote=(\d+)", line)
        if m and int(m.group(1)) >= n and int(m.group(2)) >= n:
            break
        time.sleep(0.5)
    else:
        raise RuntimeError("the module's cache did not fill (%s, want %s)" % (line.strip(), want))
    line = re.search(r"floodgate verdict cache:[^\n|]*", line).group(0).strip()
    print("preloaded in %.1f s: %d remote accounts blocked, %d listed domains imported; %s"
          % (time.monotonic() - t, n, n, line))
    sys.stdout.flush()


def report_gates(fgsrv, fg, n):
    got, errs, secs, gates, line, client = bench_gates(fgsrv, fg, n)
    print()
    print("a. gate round trip through Prosody (module -> floodgated -> module), %d gates, "
          "one session, all allowed:" % n)
    print("   %s" % line)
    print("   %s" % client)
    print("   %s" % pingpong())
    print("   delivered %d/%d (%d errors) in %.2f s, one at a time = %.0f gated messages/s; "
          "floodgated counted %d gates"
          % (got, n, errs, secs, got / secs if secs else 0, gates))
    sys.stdout.flush()


def report_throughput(servers, fg, m, rounds, server="Prosody", heading="b. "):
    """Interleaved rounds on every server (plain first in the dict), then
    medians, ratios to plain and the server's CPU per message."""
    order = list(servers)
    for name in order:  # warm-up, not counted
        one_round(servers[name], max(2000, m // 10), "warm")
    rates = {name: [] for name in order}
    cpus = {name: [] for name in order}
    ev0 = fg.metric("floodgate_meter_events_total")
    for r in range(rounds):
        rot = order[r % len(order):] + order[:r % len(order)]
        for name in rot:
            rates[name].append(one_round(servers[name], m, "r%d" % r, cpus[name]))
    print()
    print("%smessage throughput between two contacts, %d messages a round, %d rounds "
          "(interleaved), msg/s at the receiver:" % (heading, m, rounds))
    med = {name: statistics.median(v) for name, v in rates.items()}
    cmed = {name: statistics.median(v) for name, v in cpus.items()}
    for name in order:
        print("   %-10s median %7.0f  rounds %s" % (name, med[name],
                                                  " ".join("%.0f" % x for x in rates[name])))
    print("   ratio floodgate/plain = %.3f (target >= 0.95)" % (med["floodgate"] / med["plain"]))
    if "firewall" in med:
        print("   ratio firewall/plain  = %.3f (mod_firewall, one %%RATE rule per sender)"
              % (med["firewall"] / med["plain"]))
    print("   %s CPU per message, median (rounds): %s" % (server, "; ".join(
        "%s %.2f us (%s)" % (name, cmed[name], " ".join("%.2f" % x for x in cpus[name]))
        for name in order)))
    print("   cost ratio plain/%s (CPU per message; at saturation %s's throughput is "
          "its inverse)" % (", plain/".join(
              "%s = %.3f" % (name, cmed["plain"] / cmed[name]) for name in order if name != "plain"),
              server))
    print("   floodgated received %d meter events during the measured rounds "
          "(one per pair and batch, count= carries the messages)"
          % (fg.metric("floodgate_meter_events_total") - ev0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gates", type=int, default=10000)
    ap.add_argument("--messages", type=int, default=40000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--skip-gates", action="store_true", help="only the throughput part")
    ap.add_argument("--servers", default="plain,floodgate,firewall",
                    help="which servers the throughput part compares (plain is always one)")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin Prosody to CPU 0 and the clients and floodgated to CPU 1")
    ap.add_argument("--gc", choices=("generational", "incremental"), default="generational",
                    help="Prosody's Lua GC mode, the same for all servers (default: generational, "
                         "as contrib/prosody/README.md recommends)")
    ap.add_argument("--preload", type=int, default=0, metavar="N",
                    help="fill the floodgate server's verdict cache first: N blocked remote "
                         "accounts and N domains of an imported list")
    args = ap.parse_args()
    env = ["top_builddir=%s" % shlex.quote(os.environ["top_builddir"])] \
        if "top_builddir" in os.environ else []
    print("command: %s" % " ".join(env + [shlex.quote(sys.executable)]
                                   + [shlex.quote(x) for x in sys.argv]))
    if not daemon.available():
        print("floodgated not built at %s" % daemon.binary())
        sys.exit(77)
    print(machine())
    print("prosody lua gc: %s (all servers)" % args.gc)
    # Prosody is single-threaded; the clients and floodgated on the other
    # CPU keep the load generator from taking Prosody's time slices, which
    # moved single rounds by 30% on a shared 2-CPU VM. Children inherit
    # the bench's CPU 1; each Prosody is moved to CPU 0 once started.
    pinned = not args.no_pin and (os.cpu_count() or 1) >= 2
    if pinned:
        os.sched_setaffinity(0, {1})
    print("cpu pinning: %s" % ("every Prosody on CPU 0; clients, bench and floodgated on CPU 1"
                               if pinned else "none"))
    wanted = ["plain", "floodgate"] + [n for n in args.servers.split(",")
                                       if n and n not in ("plain", "floodgate")]
    sys.stdout.flush()

    with Workdir("bench-prosody") as wd:
        # Lua 5.4's incremental collector pauses Prosody for a millisecond
        # or more every few hundred gates; generational keeps the tail short.
        common = dict(domain=DOMAIN, log_level="info",
                      global_options={"gc": {"mode": args.gc}})
        servers = {
            "plain": ProsodyServer(os.path.join(wd, "plain"), floodgate=False, **common),
            "floodgate": ProsodyServer(os.path.join(wd, "floodgate"), floodgate=True,
                                       host_options={"floodgate_measure": True}, **common),
            "firewall": ProsodyServer(os.path.join(wd, "firewall"), floodgate=False,
                                      modules=["firewall"],
                                      host_options={"firewall_scripts": [PFW]}, **common),
        }
        servers = {n: s for n, s in servers.items() if n in wanted}
        fgsrv = servers["floodgate"]
        sock = os.path.join(wd, "fg", "ctl.sock")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), fgsrv, verbose=False, limits={
            "account.stranger-message": "off", "account.subscribe": "off", "account.message": "off"},
            sections={"control": {"socket": sock}})
        try:
            for s in servers.values():
                s.start()
                if pinned:
                    pin(s.pid, {0})
                s.register_many([(u, "pw") for u in ("sender", "receiver", "gsender", "gsink")])
            fg.start()
            for name, s in servers.items():
                subs = run(make_contacts(s, "sender", "receiver"), timeout=30)
                if subs != ("both", "both"):
                    raise RuntimeError("%s: sender/receiver are not mutual contacts: %s" % (name, subs))

            if args.preload:
                preload(fgsrv, fg, sock, args.preload, wd)
            if not args.skip_gates:
                report_gates(fgsrv, fg, args.gates)
            report_throughput(servers, fg, args.messages, args.rounds)
        except BaseException:
            for s in servers.values():
                s.dump_log(lines=30)
            fg.dump_log(lines=30)
            raise
        finally:
            fg.stop()
            for s in servers.values():
                s.stop()


if __name__ == "__main__":
    main()
