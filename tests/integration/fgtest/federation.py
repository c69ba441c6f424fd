# SPDX-License-Identifier: ISC
"""Prosody (and ejabberd) servers federating on one machine, over loopback.

    a, b = federated_pair(workdir, ("a.test", "127.0.0.2"), ("b.test", "127.0.0.3"),
                          floodgate_on=("b.test",))
    a.start(); b.start(); ...; b.stop(); a.stop()

Each server listens for s2s on its own loopback address, port 5269
(outgoing s2s without SRV records always dials 5269, so the addresses must
differ rather than the ports), and for c2s/components on 127.0.0.1 with
free ports as ProsodyServer does. Name resolution goes through libunbound
(Debian's lua-unbound) with a hosts file and a resolv.conf of the test's
own: the nameserver in it does
not exist, and Prosody falls back to the A record from the hosts file once
the SRV lookup failed. That is at once for names under .test, which
libunbound answers by itself (a special-use domain); for other names it
waits some 17 s for the missing server, so use .test names. s2s runs
without TLS, authenticated by dialback. Nothing outside the test directory
changes.

An ejabberd peer (FederatedEjabberd) resolves through Erlang's own DNS
client instead, which a NameServer of the test's own answers (see there):

    ns = NameServer([("p.test", "127.0.0.4"), ("e.test", "127.0.0.5")])
    ns.start()
    unbound = write_resolver(workdir, [("p.test", "127.0.0.4"), ("e.test", "127.0.0.5")])
    p = FederatedProsody(workdir + "/p.test", "p.test", "127.0.0.4", unbound)
    e = FederatedEjabberd(workdir + "/e.test", "e.test", "127.0.0.5", ns)
    p.start(); e.start(); ...; e.stop(); p.stop(); ns.stop()
"""
import contextlib
import os
import socket
import struct
import sys
import threading

from . import daemon, ejabberd, skip
from .ejabberd import EjabberdServer
from .ports import LOOPBACK, is_listening
from .prosody import PROSODY, ProsodyServer

S2S_PORT = 5269


def write_resolver(workdir, peers):
    """peers: [(domain, address), ...]; every domain also gets its
    floodgate component name. Returns the unbound option table."""
    hosts = os.path.join(workdir, "hosts")
    resolv = os.path.join(workdir, "resolv.conf")
    with open(hosts, "w") as f:
        for dom, addr in peers:
            f.write("%s %s floodgate.%s\n" % (addr, dom, dom))
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\n")
    return {"hoststxt": hosts, "resolvconf": resolv}


class FederatedProsody(ProsodyServer):
    """A ProsodyServer whose s2s listens on its own loopback address."""

    def __init__(self, workdir, domain, s2s_addr, unbound, floodgate=False,
                 host_options=None, global_options=None, modules=(), **kw):
        g = {
            "interfaces": [s2s_addr],
            "s2s_interfaces": [s2s_addr],
            "s2s_ports": [S2S_PORT],
            "modules_disabled": [],
            "s2s_require_encryption": False,
            "s2s_secure_auth": False,
            "unbound": unbound,
        }
        g.update(global_options or {})
        self.s2s_addr = s2s_addr
        super().__init__(workdir, domain=domain, floodgate=floodgate,
                         modules=["dialback"] + list(modules),
                         host_options=host_options, global_options=g, **kw)

    def start(self, timeout=15.0):
        if is_listening(S2S_PORT, self.s2s_addr) and not self.running():
            raise RuntimeError("%s:%d is already in use" % (self.s2s_addr, S2S_PORT))
        super().start(timeout)


def federated_pair(workdir, a, b, floodgate_on=(), options=None):
    """Two FederatedProsody servers in workdir/<domain>. a and b are
    (domain, s2s address); options maps a domain to extra keyword
    arguments for its server."""
    os.makedirs(workdir, exist_ok=True)
    unbound = write_resolver(workdir, [a, b])
    out = []
    for dom, addr in (a, b):
        kw = dict((options or {}).get(dom, {}))
        out.append(FederatedProsody(os.path.join(workdir, dom), dom, addr, unbound,
                                    floodgate=dom in floodgate_on, **kw))
    return out


def skip_unless_installed():
    """Exit 77 unless floodgated is built and ejabberd 23.01 and Prosody
    are installed: what a Prosody-ejabberd federation test needs."""
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    if not ejabberd.available():
        skip("ejabberd 23.01 not installed (no %s/ejabberd-23.01*)" % ejabberd.EJ_LIB)
    if not os.path.exists(PROSODY):
        skip("prosody not installed")


def prosody_and_ejabberd(workdir, p, e, names=(), prosody_kw=None, ejabberd_kw=None):
    """A FederatedProsody and a FederatedEjabberd in workdir/<domain>, p
    and e being (domain, s2s address), and the NameServer the ejabberd
    resolves through, which also answers for names (more (name, address)
    pairs, such as a component's domain that dialback checks). prosody_kw
    and ejabberd_kw are extra keyword arguments for each server. Returns
    (nameserver, prosody, ejabberd), none of them started."""
    ns = NameServer([p, e] + list(names))
    unbound = write_resolver(workdir, [p, e])
    ps = FederatedProsody(os.path.join(workdir, p[0]), p[0], p[1], unbound, **(prosody_kw or {}))
    es = FederatedEjabberd(os.path.join(workdir, e[0]), e[0], e[1], ns, **(ejabberd_kw or {}))
    return ns, ps, es


@contextlib.contextmanager
def stage(servers, daemons=(), ns=None):
    """Around a federation test's body: on failure, dump the servers' and
    daemons' logs (and the name server's last queries); either way stop
    the daemons, the servers in reverse order, then the name server."""
    try:
        yield
    except BaseException:
        for s in servers:
            s.dump_log()
        for fg in daemons:
            fg.dump_log()
        if ns is not None:
            sys.stderr.write("name server queries: %s\n" % ns.queries[-20:])
        raise
    finally:
        for fg in daemons:
            fg.stop()
        for s in reversed(servers):
            s.stop()
        if ns is not None:
            ns.stop()


# -- an ejabberd peer ----------------------------------------------------------

class NameServer:
    """A tiny DNS server on 127.0.0.1 (UDP, a free port) for ejabberd's
    outgoing s2s, which resolves in two steps (xmpp_stream_out in p1_xmpp
    1.6.1): the SRV record _xmpp-server._tcp.<domain> with Erlang's own DNS
    client (inet_res, which ERL_INETRC can point here), then the SRV
    target's address with libc's getaddrinfo (net:getaddrinfo), which reads
    only /etc/hosts and the system's name servers. So the SRV target is
    the peer's address written as a name ("127.0.0.4."): getaddrinfo
    parses it without asking anyone, and /etc/hosts stays untouched.

    peers: [(domain, address), ...]. Answers SRV and A for those domains,
    NXDOMAIN for anything else, so nothing leaves the machine or waits."""

    SRV_PREFIX = "_xmpp-server._tcp."
    TTL = 3600
    T_A, T_SRV = 1, 33

    def __init__(self, peers):
        self.peers = {d.lower(): addr for d, addr in peers}
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = []  # (name, type): what was asked, for failure reports
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._serve, name="fgtest-dns", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(2)
            self._thread = None
        self.sock.close()

    def write_inetrc(self, workdir):
        """An inetrc for ERL_INETRC that makes inet_res ask this server
        only. resolv_conf "" means no resolv.conf at all: inet_res watches
        the one it has (the system's, or any file named here) and, when its
        file info changed (reading it changes the access time), replaces
        the name servers with the ones it lists. An empty file of our own
        thus wiped this server out a few seconds after the start."""
        os.makedirs(workdir, exist_ok=True)
        path = os.path.join(workdir, "erl-inetrc")
        with open(path, "w") as f:
            f.write('%% written by fgtest/federation.py\n'
                    '{resolv_conf, ""}.\n'
                    'clear_ns.\n'
                    '{nameserver, {127,0,0,1}, %d}.\n'
                    '{timeout, 1000}.\n'
                    '{retry, 1}.\n' % self.port)
        return path

    @staticmethod
    def _name(labels):
        out = b""
        for label in labels:
            out += bytes([len(label)]) + label.encode("ascii")
        return out + b"\0"

    def _answers(self, qname, qtype):
        """(rcode, [rdata of type qtype])."""
        name = qname.lower().rstrip(".")
        if qtype == self.T_SRV and name.startswith(self.SRV_PREFIX):
            addr = self.peers.get(name[len(self.SRV_PREFIX):])
            if addr is None:
                return 3, []
            # priority 0, weight 0, port 5269, target = the address as a name
            return 0, [struct.pack("!HHH", 0, 0, S2S_PORT) + self._name(addr.split("."))]
        if name in self.peers:
            if qtype == self.T_A:
                return 0, [socket.inet_aton(self.peers[name])]
            return 0, []  # the name exists, without records of that type
        return 3, []

    def _reply(self, pkt):
        qid, flags, qdcount = struct.unpack("!HHH", pkt[:6])
        if flags & 0x8000 or qdcount != 1:
            return None  # not a query, or not one we understand
        i, labels = 12, []
        while pkt[i]:
            n = pkt[i]
            labels.append(pkt[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        qtype, _ = struct.unpack("!HH", pkt[i + 1:i + 5])
        question = pkt[12:i + 5]
        qname = ".".join(labels)
        self.queries.append((qname, qtype))
        rcode, rdatas = self._answers(qname, qtype)
        # QR, AA, RD as asked, RA; the answer names point at the question
        hdr = struct.pack("!HHHHHH", qid, 0x8480 | (flags & 0x0100) | rcode,
                          1, len(rdatas), 0, 0)
        rrs = b"".join(struct.pack("!HHHIH", 0xC00C, qtype, 1, self.TTL, len(r)) + r
                       for r in rdatas)
        return hdr + question + rrs

    def _serve(self):
        while not self._stop.is_set():
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                out = self._reply(pkt)
            except (IndexError, struct.error):
                out = None  # truncated or malformed: let the client time out
            if out:
                try:
                    self.sock.sendto(out, peer)
                except OSError:
                    pass


class FederatedEjabberd(EjabberdServer):
    """An EjabberdServer whose s2s (ejabberd_s2s_in, mod_s2s_dialback, no
    TLS) listens on its own loopback address, port 5269, and whose Erlang
    VM resolves peers through nameserver (a started NameServer). Outgoing
    s2s leaves from the same address, IPv4 only."""

    def __init__(self, workdir, domain, s2s_addr, nameserver, modules=None,
                 global_options=None, listeners=(), env=None, **kw):
        self.s2s_addr = s2s_addr
        m = {"mod_s2s_dialback": {}}
        m.update(modules or {})
        g = {
            "s2s_use_starttls": False,
            # A lookup gone wrong fails in 2 s, not 2 x 10 s by default.
            "s2s_dns_timeout": 2,
            "s2s_dns_retries": 1,
            "outgoing_s2s_families": ["ipv4"],
            "outgoing_s2s_ipv4_address": s2s_addr,
        }
        g.update(global_options or {})
        e = {"ERL_INETRC": nameserver.write_inetrc(os.path.abspath(workdir))}
        e.update(env or {})
        s2s_in = {"port": S2S_PORT, "ip": s2s_addr, "module": "ejabberd_s2s_in"}
        super().__init__(workdir, domain=domain, modules=m, global_options=g,
                         listeners=[s2s_in] + list(listeners), env=e, **kw)

    def start(self, timeout=30.0):
        if is_listening(S2S_PORT, self.s2s_addr) and not self.running():
            raise RuntimeError("%s:%d is already in use" % (self.s2s_addr, S2S_PORT))
        super().start(timeout)
