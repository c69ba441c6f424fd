# SPDX-License-Identifier: ISC
"""A throwaway ejabberd 23.01 (Debian) node on 127.0.0.1 for one test.

    srv = EjabberdServer(workdir, floodgate=True)
    srv.start()            # erl -name fg...@127.0.0.1 -s ejabberd, no epmd
    srv.register("alice", "pw")
    ...
    srv.stop()             # ejabberdctl stop, then SIGTERM/SIGKILL to its pid

Same API as ProsodyServer: .domain, .c2s_port, .component_port,
.component_jid, .secret, .register(), .register_many(), .start(), .stop(),
.restart(), .running(), .pid, .log_text(), .wait_log(), .dump_log().

How it stays out of the way of anything else on the machine:
- every listener has ip: "127.0.0.1" and a probed free port;
- Erlang distribution runs without epmd (-start_epmd false and
  -erl_epmd_port: the node listens on one fixed loopback port, and the
  control client connects there directly with -dist_listen false), so no
  epmd is started and nothing is left behind; ERL_EPMD_ADDRESS=127.0.0.1
  is set all the same;
- config, mnesia spool, logs, contrib modules and cookie live in workdir;
- the node runs as the current user from erl directly (Debian's ejabberdctl
  would su to the ejabberd user); control commands go through the same
  ejabberd_ctl entry point ejabberdctl uses (ctl()).

mod_floodgate is installed the way an operator does it: its sources are
copied to $CONTRIB_MODULES_PATH/sources/mod_floodgate and
`module_install mod_floodgate` compiles, installs and loads it; options
come from $CONTRIB_MODULES_CONF_DIR/mod_floodgate.yml (written here), which
shadows the module's own conf/mod_floodgate.yml.  install="erlc" compiles
with erlc into a temporary ebin instead and lists the module in
ejabberd.yml.
"""
import glob
import os
import secrets
import shutil
import signal
import subprocess
import time

from . import top_srcdir
from .logfile import ServerBase
from .ports import LOOPBACK, free_ports, wait_listening, wait_free

ERL = shutil.which("erl", path="/usr/bin:/bin") or "/usr/bin/erl"
ERLC = shutil.which("erlc", path="/usr/bin:/bin") or "/usr/bin/erlc"
EJ_LIB = "/usr/lib/x86_64-linux-gnu"   # Debian's ERL_LIBS for ejabberd


def ejabberd_dir():
    d = sorted(glob.glob(os.path.join(EJ_LIB, "ejabberd-23.01*")))
    return d[-1] if d else None


def available():
    return os.path.exists(ERL) and ejabberd_dir() is not None


def compile_erl(srcs, outdir, erlc=ERLC):
    """Compile the Erlang sources srcs into outdir against ejabberd's and
    p1_xmpp's headers, as ejabberd builds its modules; RuntimeError with
    erlc's messages when it fails."""
    ej = ejabberd_dir()
    cmd = [erlc, "-o", outdir]
    if ej:
        cmd += ["-I", os.path.join(ej, "include"), "-pa", os.path.join(ej, "ebin")]
    for i in sorted(glob.glob("/usr/lib/erlang/lib/p1_xmpp-*/include")):
        cmd += ["-I", i]
    r = subprocess.run(cmd + list(srcs), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("erlc failed: %s%s" % (r.stdout, r.stderr))


def _yaml(v, indent=0):
    """Python value -> YAML (enough for ejabberd.yml)."""
    pad = "  " * indent
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"%s"' % v.replace("\\", "\\\\").replace('"', '\\"')
    if isinstance(v, dict):
        if not v:
            return "{}"
        out = []
        for k, x in v.items():
            if isinstance(x, (dict, list)) and x:
                out.append("%s%s:\n%s" % (pad, k, _yaml(x, indent + 1)))
            else:
                out.append("%s%s: %s" % (pad, k, _yaml(x, indent + 1)))
        return "\n".join(out)
    if isinstance(v, (list, tuple)):
        if not v:
            return "[]"
        out = []
        for x in v:
            if isinstance(x, dict) and x:
                body = _yaml(x, indent + 1).lstrip()
                out.append("%s- %s" % (pad, body))
            else:
                out.append("%s- %s" % (pad, _yaml(x, indent + 1)))
        return "\n".join(out)
    raise TypeError("no YAML for %r" % (v,))


def _erl_str(s):
    """Python str -> the inside of an Erlang string literal."""
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


class EjabberdServer(ServerBase):
    kind = "ejabberd"

    def __init__(self, workdir, domain="fg.test", component_jid=None,
                 secret="fg-test-secret", floodgate=True, floodgate_options=None,
                 modules=None, global_options=None, install="module_install",
                 log_level="info", listeners=(), env=None):
        self.workdir = os.path.abspath(workdir)
        self.domain = domain
        self.component_jid = component_jid or "floodgate." + domain
        self.secret = secret
        self.floodgate = floodgate
        self.floodgate_options = dict(floodgate_options or {})
        self.extra_modules = dict(modules or {})
        self.global_options = dict(global_options or {})
        # Listeners beyond c2s and the component (e.g. ejabberd_s2s_in),
        # each with its own ip:, and environment variables for the VM
        # (e.g. ERL_INETRC): what a federating subclass adds.
        self.extra_listeners = [dict(x) for x in listeners]
        self.extra_env = dict(env or {})
        self.install = install
        self.log_level = log_level
        self.host = LOOPBACK
        self.c2s_port, self.component_port, self.dist_port = free_ports(3)
        self.node = "fg%s@%s" % (secrets.token_hex(4), LOOPBACK)
        self.cookie = secrets.token_hex(16)
        self.confdir = os.path.join(self.workdir, "conf")
        self.spool = os.path.join(self.workdir, "spool")
        self.logdir = os.path.join(self.workdir, "log")
        self.contrib = os.path.join(self.workdir, "contrib")
        self.contrib_conf = os.path.join(self.contrib, "conf")
        # Not "<workdir>/ebin": when workdir is called "ejabberd", the code
        # server would take <workdir> for the ejabberd application's root.
        self.ebin = os.path.join(self.workdir, "erlc", "ebin")
        self.config = os.path.join(self.confdir, "ejabberd.yml")
        self.logfile = os.path.join(self.logdir, "ejabberd.log")
        self.stdout_file = os.path.join(self.logdir, "erl.stdout")
        self.proc = None
        self.installed = False
        for d in (self.confdir, self.spool, self.logdir, self.contrib_conf, self.ebin):
            os.makedirs(d, exist_ok=True)
        self.write_config()

    # -- configuration -------------------------------------------------------

    def floodgate_conf(self):
        opts = {"component": self.component_jid}
        opts.update(self.floodgate_options)
        return opts

    def write_config(self):
        modules = {
            "mod_roster": {},
            "mod_disco": {},
            "mod_ping": {},
            "mod_privacy": {},
            "mod_blocking": {},
            "mod_register": {"ip_access": "all", "access": "register"},
        }
        if self.floodgate and self.install == "erlc":
            modules["mod_floodgate"] = self.floodgate_conf()
        modules.update(self.extra_modules)
        g = {
            "hosts": [self.domain],
            "loglevel": self.log_level,
            "log_rotate_count": 0,
            "hide_sensitive_log_data": False,
            "acme": {"auto": False},
            "auth_method": "internal",
            "registration_timeout": "infinity",
            "listen": [
                {"port": self.c2s_port, "ip": LOOPBACK, "module": "ejabberd_c2s",
                 "starttls": False, "max_stanza_size": 262144},
                {"port": self.component_port, "ip": LOOPBACK,
                 "module": "ejabberd_service",
                 "hosts": {self.component_jid: {"password": self.secret}}},
            ] + self.extra_listeners,
            "acl": {"local": {"user_regexp": ""},
                    "loopback": {"ip": ["127.0.0.0/8", "::1/128"]}},
            "access_rules": {"local": {"allow": "local"},
                             "c2s": {"allow": "all"},
                             "register": {"allow": "all"}},
            "modules": modules,
        }
        g.update(self.global_options)
        with open(self.config, "w") as f:
            f.write("# generated by fgtest/ejabberd.py\n" + _yaml(g) + "\n")
        if self.installed:
            self.write_module_conf()

    def write_module_conf(self):
        # Options for module_install: this directory shadows the module's
        # own conf/mod_floodgate.yml.  ejabberd reads it at every start, so
        # it may only exist once the module is installed.
        with open(os.path.join(self.contrib_conf, "mod_floodgate.yml"), "w") as f:
            f.write(_yaml({"modules": {"mod_floodgate": self.floodgate_conf()}}) + "\n")

    def env(self):
        e = dict(os.environ)
        e.update({
            "ERL_LIBS": EJ_LIB,
            "EJABBERD_CONFIG_PATH": self.config,
            "EJABBERD_LOG_PATH": self.logfile,
            "CONTRIB_MODULES_PATH": self.contrib,
            "CONTRIB_MODULES_CONF_DIR": self.contrib_conf,
            "ERL_EPMD_ADDRESS": LOOPBACK,
            "ERL_CRASH_DUMP": os.path.join(self.logdir, "erl_crash.dump"),
            "HOME": self.workdir,
        })
        e.update(self.extra_env)
        return e

    def _dist_args(self):
        return ["-setcookie", self.cookie,
                "-start_epmd", "false", "-erl_epmd_port", str(self.dist_port),
                "-kernel", "inet_dist_use_interface", "{127,0,0,1}"]

    # -- module installation -------------------------------------------------

    def module_src(self):
        return os.path.join(top_srcdir(), "contrib", "ejabberd", "mod_floodgate")

    def stage_sources(self):
        dst = os.path.join(self.contrib, "sources", "mod_floodgate")
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(self.module_src(), dst,
                        ignore=shutil.ignore_patterns("ebin", "*.beam"))

    def compile_erlc(self):
        compile_erl(sorted(glob.glob(os.path.join(self.module_src(), "src", "*.erl"))),
                    self.ebin)

    def module_install(self):
        """`ejabberdctl module_install mod_floodgate` (or upgrade)."""
        self.stage_sources()
        self.write_module_conf()
        cmd = "module_upgrade" if self.installed else "module_install"
        r = self.ctl(cmd, "mod_floodgate", timeout=120)
        if r.returncode != 0:
            self.dump_log()
            raise RuntimeError("%s mod_floodgate failed (%d): %s%s"
                               % (cmd, r.returncode, r.stdout, r.stderr))
        self.installed = True
        return r

    # -- life cycle ----------------------------------------------------------

    def start(self, timeout=30.0):
        if self.running():
            return
        wait_free(self.c2s_port, 5)
        wait_free(self.dist_port, 5)
        if self.floodgate and self.install == "erlc":
            self.compile_erlc()
        self._logpos = os.path.getsize(self.logfile) if os.path.exists(self.logfile) else 0
        self.stdout = open(self.stdout_file, "ab")
        args = [ERL, "-name", self.node] + self._dist_args() + [
            "-noinput", "+K", "true", "+P", "250000",
        ] + (["-pa", self.ebin] if self.install == "erlc" else []) + [
            "-mnesia", "dir", '"%s"' % self.spool,
            "-s", "ejabberd"]
        # erl execs erlexec, which execs beam.smp: self.proc.pid is the VM.
        self.proc = subprocess.Popen(args, stdout=self.stdout, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.spool,
                                     env=self.env())
        ok = (wait_listening(self.c2s_port, timeout, proc=self.proc)
              and wait_listening(self.component_port, timeout, proc=self.proc))
        if ok:
            ok = self._wait_started(timeout)
        if not ok:
            self.dump_log()
            self.stop()
            raise RuntimeError("ejabberd did not start (c2s %d, component %d)"
                               % (self.c2s_port, self.component_port))
        if self.floodgate and self.install != "erlc" and not self.installed:
            self.module_install()

    def _wait_started(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            r = self.ctl("status", timeout=30)
            if r.returncode == 0 and "is started" in r.stdout:
                return True
            time.sleep(0.3)
        return False

    def stop(self, timeout=20.0):
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            try:
                self._ctl_raw(["stop"], timeout=15)
            except Exception:  # noqa: BLE001 - fall back to signals
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)
        if getattr(self, "stdout", None):
            self.stdout.close()
            self.stdout = None


    # -- control -------------------------------------------------------------

    def _ctl_raw(self, args, timeout=60):
        # What /usr/sbin/ejabberdctl runs for any command, minus its su to
        # the ejabberd user; -dist_listen false: this client needs no port.
        name = "ctl%s@%s" % (secrets.token_hex(4), LOOPBACK)
        cmd = [ERL, "-name", name] + self._dist_args() + [
            "-dist_listen", "false", "-hidden", "-noinput",
            "-s", "ejabberd_ctl", "-extra", self.node] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=self.env(), cwd=self.spool)

    def ctl(self, *args, timeout=60):
        return self._ctl_raw(list(args), timeout=timeout)

    def register(self, user, password):
        r = self.ctl("register", user, self.domain, password)
        if r.returncode != 0:
            raise RuntimeError("ejabberdctl register %s failed: %s%s" % (user, r.stdout, r.stderr))

    def register_many(self, pairs):
        """Many accounts through one control node: the same call
        `ejabberdctl register` makes (ejabberd_admin:register/3), without
        starting a VM per account."""
        pairs = list(pairs)
        if not pairs:
            return
        terms = "[%s]" % ",".join("{<<%s/utf8>>,<<%s/utf8>>}" % (_erl_str(u), _erl_str(p))
                                  for u, p in pairs)
        script = (
            "Node = '%s', Host = <<%s/utf8>>, "
            "Bad = [{U, R} || {U, P} <- %s, "
            "  R <- [rpc:call(Node, ejabberd_admin, register, [U, Host, P], 30000)], "
            "  element(1, R) /= ok], "
            "io:format(\"~p~n\", [Bad]), "
            "halt(case Bad of [] -> 0; _ -> 1 end)."
            % (self.node, _erl_str(self.domain), terms))
        name = "ctl%s@%s" % (secrets.token_hex(4), LOOPBACK)
        cmd = [ERL, "-name", name] + self._dist_args() + [
            "-dist_listen", "false", "-hidden", "-noinput", "-eval", script]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                           env=self.env(), cwd=self.spool)
        if r.returncode != 0:
            raise RuntimeError("register_many failed: %s%s" % (r.stdout, r.stderr))

    # -- logs ------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            self.dump_log()
        self.stop()
