# SPDX-License-Identifier: ISC
"""What every server object shares: its log file (read it from its last
start, wait for a line, dump its tail and the process's own stdout when a
test fails) and the small life-cycle verbs on self.proc. A class mixes
this in, sets self.logfile, self.stdout_file, self.kind and, at start,
self._logpos, and defines start() and stop()."""
import sys
import time


class LogFile:
    logfile = None
    stdout_file = None
    kind = "server"

    def log_text(self, since_start=False):
        try:
            with open(self.logfile, errors="replace") as f:
                if since_start:
                    f.seek(getattr(self, "_logpos", 0))
                return f.read()
        except (OSError, TypeError):
            return ""

    def dump_log(self, lines=80, out=sys.stderr):
        text = self.log_text().splitlines()[-lines:]
        out.write("---- %s log (%s), last %d lines ----\n" % (self.kind, self.logfile, len(text)))
        out.write("\n".join(text) + "\n")
        try:
            with open(self.stdout_file, errors="replace") as f:
                so = f.read()[-4000:]
            if so.strip():
                out.write("---- %s stdout ----\n%s\n" % (self.kind, so))
        except (OSError, TypeError):
            pass

    def wait_log(self, needle, timeout=5.0, since_start=False):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if needle in self.log_text(since_start):
                return True
            time.sleep(0.05)
        return False


class ServerBase(LogFile):
    proc = None

    def restart(self):
        self.stop()
        self.start()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None
