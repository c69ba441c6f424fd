#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The example configuration (etc/floodgate.ini.example.in) that make
install and the package ship:

- names every key the parser knows (core/config.c's table, the [limits]
  subjects and max-keys, [upstream] rtbl, [blocklist] access), so a key
  added to the parser without a line in the example fails here;
- passes `floodgated -n` as shipped, and with every commented key
  uncommented (the documented defaults are valid values).

The flat [detect] section is the older spelling of the [detect.*]
sections; the example names its keys in one comment, checked too.
"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_srcdir  # noqa: E402
from fgtest import daemon  # noqa: E402

# Keys the handler takes outside the table (core/config.c handler()).
SPECIAL = {("limits", "max-keys"), ("upstream", "rtbl"), ("blocklist", "access")}
KEY_RE = re.compile(r'^\s*\{"([a-z.]+)", "([a-z.-]+)", K_[A-Z]+', re.M)


def parser_keys():
    src = open(os.path.join(top_srcdir(), "core", "config.c")).read()
    return set(KEY_RE.findall(src)) | SPECIAL


def example_keys(text):
    keys, section = set(), None
    for line in text.splitlines():
        m = re.match(r"\[([a-z.]+)\]\s*$", line)
        if m:
            section = m.group(1)
            continue
        m = re.match(r";?([a-z][a-z.-]*) = ", line)
        if m and section:
            keys.add((section, m.group(1)))
    return keys


def substitute(text, wd):
    for var, val in (("sysconfdir", wd), ("localstatedir", wd), ("runstatedir", wd)):
        text = text.replace("@%s@" % var, val)
    return text


def check_n(path, what):
    p = subprocess.run([daemon.binary(), "-n", "-c", path], capture_output=True, text=True)
    out = (p.stdout + p.stderr).strip()
    check(p.returncode == 0, "%s passes floodgated -n (%s)" % (what, out.splitlines()[-1:]))


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    text = open(os.path.join(top_srcdir(), "etc", "floodgate.ini.example.in")).read()
    have = example_keys(text)
    want = parser_keys()
    flat = {k for s, k in want if s == "detect"}
    want = {(s, k) for s, k in want if s != "detect"}
    missing = sorted("[%s] %s" % sk for sk in want - have)
    check(not missing, "the example names all %d keys of the parser (missing: %s)"
          % (len(want), missing))
    comment = re.search(r"flat \[detect\] section spells the same\n((?:;.*\n)+)", text)
    named = set(re.findall(r"[a-z][a-z-]+", comment.group(1))) if comment else set()
    check(flat <= named, "the comment on the flat [detect] section names its %d keys "
          "(missing: %s)" % (len(flat), sorted(flat - named)))
    check(("limits", "account.subscribe") in have, "[limits] shows the default limits")

    with Workdir("example") as wd:
        for d in ("lib/floodgate", "floodgate"):
            os.makedirs(os.path.join(wd, d), exist_ok=True)
        for f in ("local-bad.txt", "spamtraps.txt", "traps.txt", "jids.txt",
                  "domains.txt", "url-hosts.txt"):
            open(os.path.join(wd, "floodgate", f), "w").close()
        shipped = os.path.join(wd, "shipped.ini")
        with open(shipped, "w") as f:
            f.write(substitute(text, wd))
        os.chmod(shipped, 0o600)
        check_n(shipped, "the example as shipped")
        full = os.path.join(wd, "uncommented.ini")
        lines = [re.sub(r"^;([a-z][a-z.-]* = )", r"\1", line)
                 for line in substitute(text, wd).splitlines()]
        with open(full, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(full, 0o600)
        check_n(full, "the example with every key uncommented")


if __name__ == "__main__":
    main()
