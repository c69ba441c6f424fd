# SPDX-License-Identifier: ISC
"""A throwaway PostgreSQL cluster for one test (tests/pgcluster.sh).

    pg = PgCluster()           # initdb + start on a free loopback port
    pg.dsn, pg.password_file   # what [store] dsn / password-file take
    pg.down(); pg.up()         # a fast shutdown, and back on the same port
    pg.query("SELECT ...")     # psql -At through the cluster's own socket
    pg.stop()                  # by its pid, then the directory goes

available() is False when the PostgreSQL server binaries are missing.
"""
import glob
import os
import subprocess
import tempfile

from . import top_srcdir


def bindir():
    d = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return d[-1] if d else None


def available():
    b = bindir()
    return b is not None and os.access(os.path.join(b, "initdb"), os.X_OK)


class PgCluster:
    def __init__(self, workdir=None):
        # its own directory under /tmp, not inside workdir: as root the
        # cluster belongs to nobody, who cannot enter a 0700 workdir
        self.dir = tempfile.mkdtemp(prefix="fg-pg-")
        self.script = os.path.join(top_srcdir(), "tests", "pgcluster.sh")
        self._run("start")
        with open(os.path.join(self.dir, "dsn")) as f:
            self.dsn = f.read().strip()
        with open(os.path.join(self.dir, "port")) as f:
            self.port = int(f.read().strip())
        self.password_file = os.path.join(self.dir, "password")

    def _run(self, cmd):
        r = subprocess.run(["sh", self.script, cmd, self.dir],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("pgcluster.sh %s failed (%d): %s%s"
                               % (cmd, r.returncode, r.stdout, r.stderr))

    def down(self):
        self._run("down")

    def up(self):
        self._run("up")

    def stop(self):
        self._run("stop")

    def query(self, sql, db="floodgate"):
        """Rows of sql as lists of strings (psql -At, unix socket)."""
        argv = [os.path.join(bindir(), "psql"), "-At", "-F", "\t", "-h", self.dir,
                "-p", str(self.port), "-U", "floodgate", "-d", db, "-c", sql]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", "nobody", "--"] + argv
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("psql: %s" % r.stderr)
        return [line.split("\t") for line in r.stdout.splitlines() if line]
