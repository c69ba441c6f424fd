#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""ejabberd with mod_floodgate: message throughput between two contacts.

    top_builddir=BUILD /usr/bin/python3 bench/bench_ejabberd.py
        [--messages N] [--rounds R] [--no-pin] [--preload N] [--baseline DIR]

Use a build without sanitizers. Not run by make check. mod_floodgate is
installed from $top_srcdir/contrib/ejabberd (default: this tree), so
top_srcdir=DIR measures another version of the module.

Two ejabberd 23.01 nodes run side by side: plain, and with mod_floodgate
installed (module_install, as an operator does) and floodgated connected,
metering every message. On each, "sender" and "receiver" are mutual
contacts. A raw-socket sender writes M <message type='chat'/> stanzas at
once; a raw-socket receiver counts them; the rate is taken at the receiver
from its first read to the M-th message. Rounds are interleaved (the order
alternates every round); medians and the ratio floodgate/plain are
printed, and beside them ejabberd's CPU time per message (scheduler
nanoseconds of all the VM's threads, /proc/PID/task/*/schedstat).

With --preload N, before measuring, the floodgate node's verdict cache is
filled through the real daemon: N remote accounts blocked by an admin
(one control-socket request each, what floodgatectl block sends) and N
domains of an operator list blocked by floodgatectl import; the module's
cache (mod_floodgate_srv:cache_counts/1) is printed once it holds them.

With --baseline DIR a third node runs the mod_floodgate of another source
tree (DIR/contrib/ejabberd/mod_floodgate, e.g. a `git archive` of an
older commit) with a floodgated of its own, its cache left empty: its
rounds interleave with the others, so what a change costs is read in one
run, beside plain.

The raw clients, one round, the CPU accounting and the pinning are
bench_prosody.py's, imported from it, so both benchmarks measure the same
way.

On a machine with two or more CPUs every thread of each ejabberd VM
(schedulers, dirty schedulers, async and system threads) runs pinned to
CPU 0, and the bench, its clients and floodgated to CPU 1 (--no-pin to
turn off). The VMs are started from the bench, which is already on CPU 1,
so the BEAM sees one available CPU and sets one scheduler (and one dirty
CPU scheduler) online; the numbers are printed.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean (bench_prosody too)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

from bench_prosody import (DOMAIN, machine, make_contacts, pin, preload_daemon,  # noqa: E402
                           report_throughput)
from fgtest import Workdir, daemon, top_srcdir  # noqa: E402
from fgtest.client import run  # noqa: E402
from fgtest.ejabberd import ERL, EjabberdServer, available, ejabberd_dir  # noqa: E402
from fgtest.ports import LOOPBACK  # noqa: E402



def vm_info(srv):
    """Schedulers online of the node's VM, asked over Erlang distribution
    the way fgtest's control client asks (a hidden node, no epmd)."""
    name = "bench%d@%s" % (os.getpid(), LOOPBACK)
    script = ("Node = '%s', "
              "io:format(\"~p ~p ~p ~p~n\", "
              "[rpc:call(Node, erlang, system_info, [I], 10000) || "
              " I <- [schedulers_online, schedulers, dirty_cpu_schedulers_online, "
              "       dirty_cpu_schedulers]]), halt()." % srv.node)
    cmd = [ERL, "-name", name] + srv._dist_args() + [
        "-dist_listen", "false", "-hidden", "-noinput", "-eval", script]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=srv.env(),
                       cwd=srv.spool)
    f = r.stdout.split()
    return "%s of %s schedulers and %s of %s dirty CPU schedulers online" % tuple(f[:4]) \
        if len(f) >= 4 else "schedulers unknown (%s)" % (r.stdout + r.stderr).strip()


def rpc(srv, expr):
    """Evaluate expr (Erlang, may use Node) on the node; what it prints."""
    name = "bench%d@%s" % (os.getpid(), LOOPBACK)
    script = "Node = '%s', io:format(\"~p~n\", [%s]), halt()." % (srv.node, expr)
    cmd = [ERL, "-name", name] + srv._dist_args() + [
        "-dist_listen", "false", "-hidden", "-noinput", "-eval", script]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=srv.env(),
                       cwd=srv.spool)
    return (r.stdout + r.stderr).strip()


def preload(srv, fg, sock, n, wd):
    """n blocked remote accounts and n listed domains in srv's cache."""
    t = time.monotonic()
    preload_daemon(fg, sock, n, wd)
    counts = ""
    for _ in range(600):
        counts = rpc(srv, "rpc:call(Node, mod_floodgate_srv, cache_counts, [<<\"%s\">>])"
                     % srv.domain)
        acc = re.search(r"\{\{account,block\},(\d+)\}", counts)
        dom = re.search(r"\{\{domain,block\},(\d+)\}", counts)
        if acc and dom and int(acc.group(1)) >= n and int(dom.group(1)) >= n:
            break
        time.sleep(0.5)
    else:
        raise RuntimeError("the module's cache did not fill: %s" % counts)
    print("preloaded in %.1f s: %d remote accounts blocked, %d listed domains imported; "
          "mod_floodgate cache: %s" % (time.monotonic() - t, n, n, " ".join(counts.split())))
    sys.stdout.flush()


class OtherModule(EjabberdServer):
    """A node that installs mod_floodgate from another source tree."""

    def __init__(self, workdir, srcdir, **kw):
        self.srcdir = srcdir
        super().__init__(workdir, **kw)

    def module_src(self):
        return os.path.join(self.srcdir, "contrib", "ejabberd", "mod_floodgate")


def describe_vm(srv):
    return "%d threads; %s" % (len(os.listdir("/proc/%d/task" % srv.pid)), vm_info(srv))


def ejabberd_version():
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "ejabberd"],
                              capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=40000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--preload", type=int, default=0, metavar="N",
                    help="fill the floodgate node's verdict cache first: N blocked remote "
                         "accounts and N domains of an imported list")
    ap.add_argument("--baseline", metavar="DIR",
                    help="a third node with the mod_floodgate of source tree DIR")
    ap.add_argument("--no-pin", action="store_true",
                    help="do not pin ejabberd to CPU 0 and the clients and floodgated to CPU 1")
    args = ap.parse_args()
    # top_srcdir too: mod_floodgate is installed from its contrib/ tree,
    # which is how an older module is measured against the current one.
    env = ["%s=%s" % (k, shlex.quote(os.environ[k])) for k in ("top_srcdir", "top_builddir")
           if k in os.environ]
    print("command: %s" % " ".join(env + [shlex.quote(sys.executable)]
                                   + [shlex.quote(x) for x in sys.argv]))
    if not daemon.available():
        print("floodgated not built at %s" % daemon.binary())
        sys.exit(77)
    if not available():
        print("ejabberd 23.01 not installed")
        sys.exit(77)
    print(machine())
    print("ejabberd %s (%s); mod_floodgate from %s" % (
        ejabberd_version(), ejabberd_dir(),
        os.path.join(top_srcdir(), "contrib", "ejabberd", "mod_floodgate")))
    if args.baseline:
        print("baseline: mod_floodgate from %s" % os.path.join(
            os.path.abspath(args.baseline), "contrib", "ejabberd", "mod_floodgate"))
    # The VMs inherit the bench's CPU 1 at start (so the BEAM counts one
    # available CPU and sets one scheduler online), then every thread
    # moves to CPU 0.
    pinned = not args.no_pin and (os.cpu_count() or 1) >= 2
    if pinned:
        os.sched_setaffinity(0, {1})
    sys.stdout.flush()

    with Workdir("bench-ejabberd") as wd:
        # A whole round arrives at once: let the receiving c2s queue hold
        # it rather than closing the stream (default 10000).
        common = dict(domain=DOMAIN, log_level="info",
                      global_options={"max_fsm_queue": 10 * args.messages})
        servers = {
            "plain": EjabberdServer(os.path.join(wd, "plain"), floodgate=False, **common),
            "floodgate": EjabberdServer(os.path.join(wd, "floodgate"), floodgate=True, **common),
        }
        if args.baseline:
            servers["baseline"] = OtherModule(os.path.join(wd, "baseline"),
                                              os.path.abspath(args.baseline), floodgate=True,
                                              **common)
        fgsrv = servers["floodgate"]
        sock = os.path.join(wd, "fg", "ctl.sock")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), fgsrv, verbose=False, limits={
            "account.stranger-message": "off", "account.subscribe": "off", "account.message": "off"},
            sections={"control": {"socket": sock}})
        fgs = [fg]
        if args.baseline:
            fgs.append(daemon.Floodgated(os.path.join(wd, "fg-baseline"), servers["baseline"],
                                         verbose=False, name="floodgated-baseline", limits={
                "account.stranger-message": "off", "account.subscribe": "off",
                "account.message": "off"}))
        try:
            for name, s in servers.items():
                s.start()
                if pinned:
                    pin(s.pid, {0})
                s.register_many([(u, "pw") for u in ("sender", "receiver")])
            for f in fgs:
                f.start()
                if not f.server.wait_log("verdict cache for %s loaded" % DOMAIN, timeout=15):
                    raise RuntimeError("mod_floodgate did not fetch the verdict set (%s)"
                                       % f.name)
            vms = "; ".join("%s: %s" % (n, describe_vm(s)) for n, s in servers.items())
            print("cpu pinning: %s" % (
                "every thread of each ejabberd VM on CPU 0 (%s); "
                "clients, bench and floodgated on CPU 1" % vms
                if pinned else "none (%s)" % vms))
            for name, s in servers.items():
                subs = run(make_contacts(s, "sender", "receiver"), timeout=30)
                if subs != ("both", "both"):
                    raise RuntimeError("%s: sender/receiver are not mutual contacts: %s" % (name, subs))
            if args.preload:
                preload(fgsrv, fg, sock, args.preload, wd)
            if pinned:  # threads started since (none expected): on CPU 0 too
                for s in servers.values():
                    pin(s.pid, {0})
            sys.stdout.flush()
            report_throughput(servers, fg, args.messages, args.rounds, server="ejabberd",
                              heading="")
        except BaseException:
            for s in servers.values():
                s.dump_log(lines=30)
            for f in fgs:
                f.dump_log(lines=30)
            raise
        finally:
            for f in fgs:
                f.stop()
            for s in servers.values():
                s.stop()


if __name__ == "__main__":
    main()
