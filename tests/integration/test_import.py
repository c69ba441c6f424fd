#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""floodgatectl import: plain domain blocklists (JabberSPAM format) become
admin blocks in the running floodgated (real Prosody).

- comments and blank lines are skipped, bad lines are reported as
  FILE:LINE and skipped;
- each domain is blocked through the control socket like `block`, with
  the reason "imported from FILE" and the actor ctl:USER in the audit;
- a domain already under an admin block is counted, not blocked again;
- the daemon refuses to block its own served domain: counted as refused,
  exit 1; a clean list exits 0; no file: exit 2; daemon down: exit 3.
"""
import getpass
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402


def ctl_binary():
    return os.path.join(top_builddir(), "floodgatectl")


def ctl(config, *args, expect=None):
    argv = [ctl_binary(), args[0], "-c", config] + list(args[1:])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    print("$ floodgatectl %s -> %d\n%s%s" % (" ".join(args), r.returncode,
          r.stdout, ("stderr: " + r.stderr) if r.stderr else ""))
    if expect is not None:
        check(r.returncode == expect, "floodgatectl %s exits %d (got %d)"
              % (" ".join(args), expect, r.returncode))
    return r


def main():
    if not daemon.available() or not os.access(ctl_binary(), os.X_OK):
        skip("floodgated or floodgatectl not built in %s" % top_builddir())
    with Workdir("import") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        sock = os.path.join(wd, "fg", "ctl.sock")
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv,
                               sections={"control": {"socket": sock}})
        d = srv.domain
        me = getpass.getuser()
        lst = os.path.join(wd, "jabberspam.txt")
        with open(lst, "w") as f:
            f.write("# JabberSPAM-style list\n"
                    "\n"
                    "spam.example\n"
                    "two words.example\n"           # line 4: bad
                    "Spam2.Example.   # trailing comment\n"
                    "%s\n"                          # line 6: refused
                    "spam.example\n"                # already blocked
                    "bad_domain!\n" % d)            # line 8: bad
        clean = os.path.join(wd, "clean.txt")
        with open(clean, "w") as f:
            f.write("spam3.example\nspam.example\n")
        try:
            srv.start()
            fg.start()
            ctl(fg.config, "import", expect=2)
            r = ctl(fg.config, "import", lst, expect=1)
            check("2 domains blocked, 1 already blocked, 1 refused, "
                  "2 bad lines" in r.stdout, "import summary: %s" % r.stdout)
            check("jabberspam.txt:4:" in r.stderr and "jabberspam.txt:8:" in r.stderr,
                  "bad lines named as file:line")
            check("jabberspam.txt:6: %s" % d in r.stderr,
                  "the refused served domain is named with its line")
            for dom in ("spam.example", "spam2.example"):
                r = ctl(fg.config, "inspect", "--json", "domain:" + dom, expect=0)
                j = json.loads(r.stdout)
                check(j["effective"] == "block" and j["override"] == "block"
                      and j["reason"] == "imported from " + lst
                      and j["audit"] and j["audit"][0]["actor"] == "ctl:" + me,
                      "%s blocked by ctl:%s, imported from the list" % (dom, me))
            r = ctl(fg.config, "inspect", "--json", "domain:" + d, expect=None)
            check(json.loads(r.stdout)["effective"] != "block",
                  "the served domain is not blocked")
            r = ctl(fg.config, "import", clean, expect=0)
            check("1 domains blocked, 1 already blocked, 0 refused, "
                  "0 bad lines" in r.stdout, "clean list: %s" % r.stdout)
            ctl(fg.config, "import", os.path.join(wd, "missing.txt"), expect=1)
            fg.stop()
            ctl(fg.config, "import", clean, expect=3)
        except BaseException:
            srv.dump_log() if hasattr(srv, "dump_log") else None
            raise
        finally:
            fg.stop()
            srv.stop()
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
