#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The Debian package, installed on this machine: run by
scripts/test-package.sh with the .deb(s) it built.

- dpkg -i installs it: the user floodgate exists, the packaged
  configuration is 0640 root:floodgate with a random secret, the unit
  passes systemd-analyze verify;
- floodgated starts as the unit would (no systemd here): as the packaged
  user, from the packaged configuration adjusted to a throwaway Prosody on
  loopback that loads the packaged mod_floodgate through plugin_paths (the
  command contrib/prosody/README.md gives), in the runtime directory the
  unit's RuntimeDirectory= makes;
- a slixmpp client's disco#info and ping to the component answer, and
  floodgatectl with no options finds the daemon through the packaged
  defaults;
- the same with a throwaway ejabberd that module_install'ed the packaged
  module sources; then the README's uninstall (override first, then
  module_uninstall) leaves an ejabberd that starts;
- dpkg --purge leaves nothing behind: the file lists of /etc, /usr, /lib,
  /var/lib and /run before and after are the same, and the user is gone.

Skips (77) unless root, and when a floodgate package or user is already
there (it would be purged).
"""
import asyncio
import grp
import os
import pwd
import re
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest.client import connect, disconnect_all, run  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402
from fgtest import ejabberd  # noqa: E402

CONF = "/etc/floodgate/floodgate.ini"
UNIT = "/lib/systemd/system/floodgated.service"
RUNDIR = "/run/floodgate"
PLUGINS = "/usr/share/floodgate/prosody"
EJABBERD_MODULE = "/usr/share/floodgate/ejabberd/mod_floodgate"
SNAPSHOT_ROOTS = ("/etc", "/usr", "/lib", "/var/lib", "/run")
# dpkg's own bookkeeping, and caches that triggers rewrite
SNAPSHOT_IGNORE = re.compile(r"^/var/lib/(dpkg|apt|systemd/deb-systemd)|"
                             r"^/var/cache/|__pycache__")
START_WAIT_S = 15  # for the component to answer after start, seconds


def sh(*args, **kw):
    """Run a command, echo it and its output; returns CompletedProcess."""
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    print("$ %s  -> exit %d" % (" ".join(args), p.returncode))
    for line in (p.stdout + p.stderr).splitlines():
        print("  " + line)
    return p


def snapshot():
    files = set()
    for root in SNAPSHOT_ROOTS:
        for d, dirs, names in os.walk(root):
            for n in dirs + names:
                path = os.path.join(d, n)
                if not SNAPSHOT_IGNORE.search(path):
                    files.add(path)
    return files


def installed():
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "floodgate"],
                       capture_output=True, text=True)
    return p.returncode == 0 and "not-installed" not in p.stdout


def account_exists():
    try:
        pwd.getpwnam("floodgate")
        return True
    except KeyError:
        pass
    try:
        grp.getgrnam("floodgate")
        return True
    except KeyError:
        return False


def adjust_config(text, prosody):
    """The packaged file, pointed at the throwaway server; the secret
    stays the packaged one (Prosody gets it)."""
    repl = {"jid": prosody.component_jid, "server": prosody.host,
            "port": str(prosody.component_port), "serves": prosody.domain}
    out, section = [], None
    for line in text.splitlines():
        m = re.match(r"\[(.*)\]\s*$", line)
        if m:
            section = m.group(1)
        k = re.match(r"(\w[\w.-]*)\s*=", line)
        if section == "component" and k and k.group(1) in repl:
            line = "%s = %s" % (k.group(1), repl[k.group(1)])
        out.append(line)
    return "\n".join(out) + "\n"


async def stranger_message(srv):
    """A message to a non-contact: the bridge module gates it."""
    c = await connect(srv, "alice", "pw")
    try:
        c.message("bob@" + srv.domain, "hello from a stranger")
        await asyncio.sleep(1.0)
    finally:
        await disconnect_all([c])


async def probe(srv):
    c = await connect(srv, "alice", "pw")
    try:
        info = await c.disco_info(srv.component_jid)
        rtt = await c.ping(srv.component_jid)
        return info["disco_info"]["identities"], rtt
    finally:
        await disconnect_all([c])


def runtime_dir():
    """/run/floodgate as the unit's RuntimeDirectory= makes it before
    floodgated starts (floodgated -n checks that it exists)."""
    os.makedirs(RUNDIR, mode=0o750, exist_ok=True)
    pw = pwd.getpwnam("floodgate")
    os.chown(RUNDIR, pw.pw_uid, pw.pw_gid)
    os.chmod(RUNDIR, 0o750)


def start_as_unit(logpath):
    """floodgated as floodgated.service runs it: the packaged user and
    group, no new privileges, UMask=0007, -d in the foreground."""
    runtime_dir()
    log = open(logpath, "ab")
    return subprocess.Popen(
        ["setpriv", "--reuid=floodgate", "--regid=floodgate", "--init-groups",
         "--no-new-privs", "/usr/sbin/floodgated", "-d", "-c", CONF],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd="/",
        preexec_fn=lambda: os.umask(0o007))


def stop(proc, timeout=10):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def exercise(wd):
    pw = pwd.getpwnam("floodgate")
    check(pw.pw_shell in ("/usr/sbin/nologin", "/bin/false"),
          "user floodgate has no login shell (%s)" % pw.pw_shell)
    st = os.stat(CONF)
    check(st.st_uid == 0 and st.st_gid == pw.pw_gid and st.st_mode & 0o777 == 0o640,
          "%s is 0640 root:floodgate" % CONF)
    text = open(CONF).read()
    secret = re.search(r"^secret = (\S+)$", text, re.M).group(1)
    check(secret != "changeme" and len(secret) >= 32,
          "postinst wrote a random secret (%d characters)" % len(secret))
    env = dict(os.environ, MANPATH="/usr/share/man")
    check(sh("systemd-analyze", "verify", UNIT, env=env).returncode == 0,
          "systemd-analyze verify %s" % UNIT)

    srv = ProsodyServer(os.path.join(wd, "prosody"), secret=secret,
                        global_options={"plugin_paths": [PLUGINS]})
    try:
        srv.start()
        srv.register("alice", "pw")
        srv.register("bob", "pw")
        with open(CONF, "w") as f:  # keeps owner and mode
            f.write(adjust_config(text, srv))
        runtime_dir()
        check(sh("setpriv", "--reuid=floodgate", "--regid=floodgate",
                 "--init-groups", "/usr/sbin/floodgated", "-n", "-c",
                 CONF).returncode == 0,
              "the adjusted packaged configuration passes floodgated -n as floodgate")
        attach(srv, wd, "prosody", store=True)
    finally:
        srv.stop()
    if not ejabberd.available():
        print("SKIP (part): no ejabberd 23.01 for the ejabberd module")
        return
    ej = PackagedEjabberd(os.path.join(wd, "ejabberd"), secret=secret)
    try:
        ej.start()  # module_install from the packaged sources
        ej.register("alice", "pw")
        ej.register("bob", "pw")
        r = ej.ctl("modules_installed", timeout=30)
        check("mod_floodgate" in r.stdout, "modules_installed lists mod_floodgate")
        with open(CONF, "w") as f:
            f.write(adjust_config(text, ej))
        attach(ej, wd, "ejabberd")
        # Uninstall as the README says: the options override first, or
        # ejabberd refuses to start on a module it no longer has.
        os.remove(os.path.join(ej.contrib_conf, "mod_floodgate.yml"))
        r = ej.ctl("module_uninstall", "mod_floodgate", timeout=60)
        check(r.returncode == 0, "ejabberdctl module_uninstall mod_floodgate")
        ej.installed, ej.floodgate = False, False
        ej.stop()
        ej.start()
        check(ej.running(), "ejabberd starts again after the README's uninstall")
    finally:
        ej.stop()


class PackagedEjabberd(ejabberd.EjabberdServer):
    """module_install from the packaged sources, as the README does."""

    def module_src(self):
        return EJABBERD_MODULE


def attach(srv, wd, label, store=False):
    """floodgated as the unit runs it, against srv; the component must
    answer disco#info and ping."""
    logpath = os.path.join(wd, "floodgated-%s.log" % label)
    fg = start_as_unit(logpath)
    try:
        ids, rtt = None, None
        deadline = time.monotonic() + START_WAIT_S
        while ids is None and time.monotonic() < deadline:
            check(fg.poll() is None, "floodgated is running (log %s)" % logpath)
            try:
                ids, rtt = run(probe(srv), timeout=10)
            except Exception as e:  # noqa: BLE001 - not attached yet
                print("  (not answering yet: %s)" % (e,))
                time.sleep(0.5)
        check(ids, "%s: the component answers disco#info: %s" % (label, ids))
        check(rtt is not None, "%s: the component answers ping (%.1f ms)"
              % (label, rtt * 1000))
        owner = pwd.getpwuid(os.stat("/proc/%d" % fg.pid).st_uid).pw_name
        check(owner == "floodgate", "floodgated runs as %s" % owner)
        # floodgatectl with no options: the packaged defaults lead it to
        # the socket; a gate counted proves the server loaded the
        # packaged module
        run(stranger_message(srv), timeout=20)
        p = sh("floodgatectl", "stats")
        check(p.returncode == 0, "floodgatectl stats with no options finds "
              "%s/floodgated.sock" % RUNDIR)
        m = re.search(r"^gates\s+(\d+)", p.stdout, re.M)
        check(m and int(m.group(1)) >= 1, "%s: the packaged module gated the "
              "stranger message (gates %s)" % (label, m and m.group(1)))
        if store:
            db = os.stat("/var/lib/floodgate/floodgate.db")
            check(db.st_uid == pwd.getpwnam("floodgate").pw_uid,
                  "the store is owned by floodgate")
    finally:
        stop(fg)
        print("--- floodgated log (tail)")
        print("".join(open(logpath, errors="replace").readlines()[-8:]))


def main():
    debs = sys.argv[1:]
    if not debs:
        skip("no .deb given (scripts/test-package.sh builds them)")
    if os.geteuid() != 0:
        skip("installs a package: needs root")
    if installed() or account_exists():
        skip("a floodgate package or user is already on this machine")
    names = [subprocess.run(["dpkg-deb", "-f", d, "Package"], capture_output=True,
                            text=True, check=True).stdout.strip() for d in debs]
    before = snapshot()
    with Workdir("package") as wd:
        try:
            check(sh("dpkg", "-i", *debs).returncode == 0, "dpkg -i %s" % " ".join(debs))
            exercise(wd)
        finally:
            p = sh("dpkg", "--purge", *names)
        check(p.returncode == 0, "dpkg --purge %s" % " ".join(names))
    after = snapshot()
    added, removed = sorted(after - before), sorted(before - after)
    for f in added:
        print("  left behind: %s" % f)
    for f in removed:
        print("  gone: %s" % f)
    check(not added and not removed,
          "after purge the file lists of %s are as before (%d entries)"
          % (", ".join(SNAPSHOT_ROOTS), len(after)))
    check(not account_exists(), "user and group floodgate removed")


if __name__ == "__main__":
    main()
