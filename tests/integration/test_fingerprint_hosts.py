#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Host fingerprints (hfp) of the Prosody module against fixed vectors.

contrib/prosody/floodgate_fingerprint.lib.lua runs under lua5.4 with
Prosody's util.hashes. Each vector is a body and the host names its hfp
must hash, in order; the expected hfp is computed here with hashlib
(first 16 hex digits of SHA-256 of each name), so a wrong name, order,
limit or hash shows. The vectors are the ones in doc/PROTOCOL.md ("Host
fingerprints"), when the document has them, and the edge cases below.
Then the generated bodies of test_fingerprint.py must give the same hfp
in Lua as the reference written here from the protocol text, and, when
the ejabberd module has host_fingerprints/1, in Erlang too.

Exit 0 on pass, 77 when lua5.4 or Prosody's util.hashes is missing.
"""
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_fingerprint import (ERL_SRC, LUA_LIB, PROSODY_LIB, PROTOCOL, TRAIL,  # noqa: E402
                              generated, lower, normalise)

SKIP = 77
PER_URL, MAX = 4, 12

# (body, names hashed in order)
VECTORS = [
    ("no link, just 10:30 and a:b", []),
    ("https://localhost/x", ["localhost"]),
    ("HTTPS://WWW.Example.COM.", ["example.com"]),
    ("https:///only/a/path and xmpp:?join", []),
    ("Visit(https://a.b.example).", ["a.b.example", "b.example"]),
    ("xmpp:bot@spam.example.net and xmpp:spam.example.net?join",
     ["spam.example.net", "example.net"]),
    ("one https://a.b.c.d.e.example/x more", ["a.b.c.d.e.example", "c.d.e.example",
                                              "d.e.example", "e.example"]),
    ("https://paypal.example@Evil.Example:8443/login", ["evil.example"]),
    ("http://user:pw@www.shop.example:80", ["shop.example"]),
    (" ".join("https://h%d.x.example" % i for i in range(8)),
     ["h0.x.example", "x.example"] + ["h%d.x.example" % i for i in range(1, 8)]
     + []),
    (" ".join("https://h%d.y%d.example" % (i, i) for i in range(8)),
     [n for i in range(6) for n in ("h%d.y%d.example" % (i, i), "y%d.example" % i)]),
    ("www.shop.example/sale http://Shop.Example/other", ["shop.example"]),
]


def hex16(name):
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def doc_vectors():
    """The body/names records under "Host fingerprints" in PROTOCOL.md."""
    with open(PROTOCOL, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"### Host fingerprints.*?```\n(.*?)```", text, re.S)
    if not m:
        return []
    out = []
    for rec in re.split(r"\n\s*\n", m.group(1).strip()):
        v = {}
        for line in rec.strip().splitlines():
            key, _, val = line.strip().partition(" ")
            v[key] = val.strip()
        out.append((json.loads(v["body"]), v["names"].split(), json.loads(v["hfp"])))
    return out


# -- the reference, from the protocol text -------------------------------------

def host_of(url):
    u = url.rstrip(TRAIL)
    low = lower(u)
    for p in (b"http://", b"https://", b"xmpp:"):
        if low.startswith(p):
            low = low[len(p):]
            break
    host = re.match(rb"[^/?#]*", low).group(0)
    host = host.rsplit(b"@", 1)[-1]
    if host.startswith(b"www."):
        host = host[4:]
    host = re.sub(rb":[0-9]*$", b"", host)
    if host.endswith(b"."):
        host = host[:-1]
    return host or None


def names_of(host):
    names = [host]
    while b"." in host:
        host = host.split(b".", 1)[1]
        if b"." not in host:
            break
        names.append(host)
    if len(names) > PER_URL:
        names = names[:1] + names[len(names) - PER_URL + 1:]
    return names


def reference(body):
    out = []
    for url in normalise(body)[1]:
        host = host_of(url)
        for name in names_of(host) if host else []:
            h = hashlib.sha256(name).hexdigest()[:16]
            if len(out) < MAX and h not in out:
                out.append(h)
        if len(out) >= MAX:
            break
    return " ".join(out) or None


LUA_DRIVER = r"""
package.path = %(lib)s .. "/?.lua;" .. package.path
package.cpath = %(lib)s .. "/?.so;" .. package.cpath
local fpmod = dofile(%(fplib)s)
local function unhex(s) return (s:gsub("..", function (h) return string.char(tonumber(h, 16)) end)) end
for line in io.lines() do
	local body = unhex(line)
	local _, _, hfp = fpmod.fingerprints(body)
	local alone = fpmod.hosts(body)
	print((hfp or "-") .. "|" .. (alone or "-"))
end
"""


def run_lua(lua, bodies):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA_DRIVER % {"lib": json.dumps(PROSODY_LIB), "fplib": json.dumps(LUA_LIB)})
        path = f.name
    try:
        r = subprocess.run([lua, path], input="".join(b.hex() + "\n" for b in bodies),
                           capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        raise AssertionError("lua failed: %s" % r.stderr)
    out = []
    for line in r.stdout.splitlines():
        hfp, alone = line.split("|")
        out.append((None if hfp == "-" else hfp, None if alone == "-" else alone))
    return out


ERL_DRIVER = r"""
F = fun(undefined) -> <<"-">>; (X) -> X end,
lists:foreach(fun(B) -> io:format("~s~n", [F(mod_floodgate:host_fingerprints(B))]) end, [%s]),
halt(0).
"""


def run_erl(src, bodies):
    """hfp of each body by the ejabberd module at src, or None when it
    has no host_fingerprints/1 or no Erlang is installed."""
    erl, erlc = shutil.which("erl"), shutil.which("erlc")
    with open(src, encoding="utf-8") as f:
        if "host_fingerprints/1" not in f.read() or not (erl and erlc):
            return None
    d = tempfile.mkdtemp(prefix="fgtest-hfp-")
    try:
        # as test_fingerprint.py compiles it, for another source file
        from fgtest.ejabberd import ejabberd_dir
        ej = ejabberd_dir()
        cmd = [erlc, "-o", d]
        if ej:
            cmd += ["-I", os.path.join(ej, "include"), "-pa", os.path.join(ej, "ebin")]
        for i in sorted(glob.glob("/usr/lib/erlang/lib/p1_xmpp-*/include")):
            cmd += ["-I", i]
        c = subprocess.run(cmd + [src], capture_output=True, text=True, timeout=120)
        if c.returncode != 0:
            raise AssertionError("erlc failed: %s%s" % (c.stdout, c.stderr))
        lits = ",".join("<<%s>>" % ",".join(str(c) for c in b) for b in bodies)
        r = subprocess.run([erl, "-noshell", "-pa", d, "-eval", ERL_DRIVER % lits],
                           capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if r.returncode != 0:
        raise AssertionError("erl failed: %s%s" % (r.stdout, r.stderr))
    return [None if line == "-" else line for line in r.stdout.splitlines()]


def main():
    lua = shutil.which("lua5.4")
    if not lua or not os.path.exists(os.path.join(PROSODY_LIB, "util", "hashes.so")):
        print("SKIP: lua5.4 or %s/util/hashes.so missing" % PROSODY_LIB)
        return SKIP
    bad = 0
    fixed = [(b, names, " ".join(hex16(n) for n in names) or None) for b, names in VECTORS]
    docv = doc_vectors()
    for body, names, hfp in docv:
        calc = " ".join(hex16(n) for n in names)
        if calc != hfp:
            print("FAIL doc vector %r: doc hfp %s, hashlib over %s gives %s"
                  % (body, hfp, names, calc))
            bad += 1
        fixed.append((body, names, calc or None))
    bodies = [b.encode("utf-8") for b, _, _ in fixed]
    gen = list(generated(300, seed=15))
    got = run_lua(lua, bodies + gen)
    for (body, names, want), (hfp, alone) in zip(fixed, got):
        if hfp != want or alone != want:
            print("FAIL %r (names %s):\n  lua  %s / hosts() %s\n  want %s"
                  % (body, names, hfp, alone, want))
            bad += 1
        if reference(body.encode("utf-8")) != want:
            print("FAIL reference %r: %s, want %s" % (body, reference(body.encode()), want))
            bad += 1
    for body, (hfp, alone) in zip(gen, got[len(fixed):]):
        want = reference(body)
        if hfp != want or alone != want:
            print("FAIL generated %r: lua %s / %s, reference %s" % (body, hfp, alone, want))
            bad += 1
    erl = run_erl(ERL_SRC, bodies + gen)
    if erl is None:
        print("erlang: no host_fingerprints/1 in %s (or no erl): not compared" % ERL_SRC)
    else:
        for body, (hfp, _), e in zip(bodies + gen, got, erl):
            if e != hfp:
                print("FAIL erlang %r: %s, lua %s" % (body, e, hfp))
                bad += 1
        print("erlang: %d bodies compared with lua" % len(erl))
    print("%d fixed vectors (%d from doc/PROTOCOL.md), %d generated bodies: %s"
          % (len(fixed), len(docv), len(gen), "FAIL" if bad else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
