"""Two Prosody servers federating on one machine, over loopback.

    a, b = federated_pair(workdir, ("a.test", "127.0.0.2"), ("b.test", "127.0.0.3"),
                          floodgate_on=("b.test",))
    a.start(); b.start(); ...; b.stop(); a.stop()

Each server listens for s2s on its own loopback address, port 5269
(outgoing s2s without SRV records always dials 5269, so the addresses must
differ rather than the ports), and for c2s/components on 127.0.0.1 with
free ports as ProsodyServer does. Name resolution goes through libunbound
(Debian's lua-unbound) with a hosts file and a resolv.conf of the test's
own (../shared/reference/prosody.md, Appendix): the nameserver in it does
not exist, so SRV lookups fail at once and Prosody falls back to the A
record from the hosts file. s2s runs without TLS, authenticated by
dialback. Nothing outside the test directory changes.
"""
import os

from .ports import is_listening
from .prosody import ProsodyServer

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
