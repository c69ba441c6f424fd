# SPDX-License-Identifier: ISC
"""Two ejabberd 23.01 nodes on loopback joined in one cluster.

    a, b = cluster_pair(workdir)     # started, b joined to a
    ...
    stop_all(a, b)

Each node is an EjabberdServer (fgtest/ejabberd.py) with its own c2s and
component ports on 127.0.0.1. Erlang distribution runs without epmd, and
-erl_epmd_port makes a node both listen on and connect to one fixed port:
so the two nodes share that port number on two loopback addresses, node
A on 127.0.0.1 and node B on 127.0.0.2 (all of 127/8 is loopback). B
joins with `ejabberdctl join_cluster A`, which copies A's Mnesia tables
(accounts, rosters) and restarts ejabberd on B.
"""
import secrets

from .ejabberd import EjabberdServer
from .ports import free_port, wait_listening


class ClusterNode(EjabberdServer):
    def __init__(self, workdir, dist_ip, dist_port, cookie, **kw):
        super().__init__(workdir, **kw)
        self.dist_ip = dist_ip
        self.dist_port = dist_port
        self.cookie = cookie
        self.node = "fg%s@%s" % (secrets.token_hex(4), dist_ip)

    def _dist_args(self):
        return ["-setcookie", self.cookie,
                "-start_epmd", "false", "-erl_epmd_port", str(self.dist_port),
                "-kernel", "inet_dist_use_interface",
                "{%s}" % self.dist_ip.replace(".", ",")]

    def dist_up(self, timeout=10):
        return wait_listening(self.dist_port, timeout, host=self.dist_ip)

    def join(self, other, timeout=120):
        """ejabberdctl join_cluster OTHER, run on this node."""
        r = self.ctl("join_cluster", other.node, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError("join_cluster %s failed (%d): %s%s"
                               % (other.node, r.returncode, r.stdout, r.stderr))
        return r

    def cluster_nodes(self):
        r = self.ctl("list_cluster")
        return r.stdout.split()


def cluster_pair(workdir, **kw):
    """Start node A (127.0.0.1) and node B (127.0.0.2), B joined to A.
    Both serve the same domain and accept the same component JID."""
    port = free_port()
    cookie = secrets.token_hex(16)
    a = ClusterNode(workdir + "/node-a", "127.0.0.1", port, cookie, **kw)
    b = ClusterNode(workdir + "/node-b", "127.0.0.2", port, cookie, **kw)
    a.start()
    try:
        b.start()
        b.join(a)
    except Exception:
        b.stop()
        a.stop()
        raise
    return a, b


def stop_all(*nodes):
    for n in nodes:
        if n is not None:
            try:
                n.stop()
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass
