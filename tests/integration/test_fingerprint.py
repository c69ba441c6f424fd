#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The body and URL fingerprints (`fp`, `ufp`) of both bridge
modules against the test vectors in doc/PROTOCOL.md.

Three implementations must agree byte for byte: the reference below
(written from the algorithm in PROTOCOL.md), the Prosody module's
(contrib/prosody/floodgate_fingerprint.lib.lua, run with
lua5.4 and Prosody's util.hashes) and the ejabberd module's
(mod_floodgate:normalise/1 and fingerprints/1, compiled with erlc as the
ejabberd harness does). Every documented vector is checked three ways:
the normalised text and URLs, fp = SHA-256(norm)[:16] by hashlib, and the
ufp list; then a few hundred generated bodies (UTF-8, odd whitespace,
byte 0x85, placeholders typed by hand) must give the same answers in
all three.

Exit 0 on pass, 77 when neither lua5.4 nor erl is installed.
"""
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest.ejabberd import compile_erl  # noqa: E402

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
PROTOCOL = os.path.join(TOP, "doc", "PROTOCOL.md")
LUA_MOD = os.path.join(TOP, "contrib", "prosody", "mod_floodgate.lua")
ERL_SRC = os.path.join(TOP, "contrib", "ejabberd", "mod_floodgate", "src",
                       "mod_floodgate.erl")
PROSODY_LIB = "/usr/lib/prosody"

# -- the reference, straight from PROTOCOL.md ---------------------------------

WS = b" \t\n\x0b\x0c\r"
PREFIXES = (b"http://", b"https://", b"xmpp:", b"www.")
ALNUM = set(b"abcdefghijklmnopqrstuvwxyz0123456789")
MCHAR = set(b"abcdefghijklmnopqrstuvwxyz0123456789._%+-@") | set(range(0x80, 0x100))
TRAIL = b".,;:!?'\")]}>"
UFP_MAX = 3
RESIDUE_MIN = 4


def lower(b):
    return bytes(c + 32 if 65 <= c <= 90 else c for c in b)


def tokens(body):
    out, cur = [], bytearray()
    for c in body:
        if c in WS:
            if cur:
                out.append(bytes(cur))
                cur = bytearray()
        else:
            cur.append(c)
    if cur:
        out.append(bytes(cur))
    return out


def url_start(low):
    for i in range(len(low)):
        if i > 0 and low[i - 1] in ALNUM:
            continue
        if any(low.startswith(p, i) for p in PREFIXES):
            return i
    return -1


def mentions(low):
    out, i = bytearray(), 0
    while i < len(low):
        if low[i] not in MCHAR:
            out.append(low[i])
            i += 1
            continue
        j = i
        while j < len(low) and low[j] in MCHAR:
            j += 1
        run = low[i:j]
        if b"@" in run and run.strip(b"@"):
            out += b"<m>"
        else:
            out += run
        i = j
    return bytes(out)


def digits(b):
    return re.sub(rb"[0-9]+", b"0", b)


def normalise(body):
    """(normalised text, [URL as written])"""
    toks, urls = [], []
    for tok in tokens(body):
        low = lower(tok)
        i = url_start(low)
        if i >= 0:
            urls.append(tok[i:])
            low = low[:i] + b"<u>"
        toks.append(digits(mentions(low)))
    return b" ".join(toks), urls


def url_normalise(url):
    """The normalised form of one URL as written, or None."""
    u = url.rstrip(TRAIL)
    low = lower(u)
    scheme = b""
    if low.startswith(b"http://"):
        u = u[7:]
    elif low.startswith(b"https://"):
        u = u[8:]
    elif low.startswith(b"xmpp:"):
        scheme, u = b"xmpp:", u[5:]
    m = re.match(rb"[^/?#]*", u)
    host, rest = lower(m.group(0)), u[m.end():]
    if host.startswith(b"www."):
        host = host[4:]
    path = b""
    if rest.startswith(b"/"):
        path = re.match(rb"[^?#]*", rest).group(0)
    path = digits(path.rstrip(b"/"))
    if host == b"":
        return None
    return scheme + host + path


def hex16(b):
    return hashlib.sha256(b).hexdigest()[:16]


def fingerprints(body):
    """(fp or None, ufp or None) as sent on the wire."""
    norm, urls = normalise(body)
    residue = norm.replace(b"<u>", b"").replace(b"<m>", b"").replace(b" ", b"")
    fp = hex16(norm) if len(residue) >= RESIDUE_MIN else None
    ufps = []
    for u in urls:
        n = url_normalise(u)
        if n is None:
            continue
        h = hex16(n)
        if h not in ufps:
            ufps.append(h)
        if len(ufps) == UFP_MAX:
            break
    return fp, (" ".join(ufps) if ufps else None)


# -- the vectors in PROTOCOL.md ------------------------------------------------

def doc_vectors():
    """The ```vectors block: records of `field JSON-string` lines,
    separated by blank lines."""
    with open(PROTOCOL, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"```vectors\n(.*?)```", text, re.S)
    if not m:
        raise AssertionError("no ```vectors block in doc/PROTOCOL.md")
    vecs = []
    for rec in re.split(r"\n\s*\n", m.group(1).strip()):
        v = {"url": []}
        for line in rec.strip().splitlines():
            key, _, val = line.strip().partition(" ")
            val = json.loads(val.strip())
            if key == "url":
                v["url"].append(val)
            else:
                v[key] = val
        vecs.append(v)
    return vecs


def generated(n, seed=7):
    rng = random.Random(seed)
    parts = ["Hi", "@alice", "bob@Example.ORG", "https://Evil.example/p/12?x=1",
             "www.Spam.example/", "xmpp:room@muc.example?join", "order", "#4711",
             "ÅNGSTRÖM", "日本", "caf\u00e9", "(see", "http://x.example)", "<u>",
             "<m>", "@", "a@", "@@", "555-1234", "HTTPS://A.B/C/D//", "www.",
             "https://", "mail:x@y", "foo,https://b.example", "\u2028", "x\u0085y"]
    seps = [" ", "  ", "\t", "\n", "\r\n", "\x0b", "\x0c", "", "\u00a0"]
    for _ in range(n):
        k = rng.randint(0, 8)
        s = ""
        for _ in range(k):
            s += rng.choice(seps) + rng.choice(parts)
        s += rng.choice(seps)
        yield s.encode("utf-8")


# -- the two modules -----------------------------------------------------------

LUA_LIB = os.path.join(TOP, "contrib", "prosody", "floodgate_fingerprint.lib.lua")


LUA_DRIVER = r"""
package.path = %(lib)s .. "/?.lua;" .. package.path
package.cpath = %(lib)s .. "/?.so;" .. package.cpath
local fpmod = dofile(%(fplib)s)
local fp_normalise, fingerprints = fpmod.normalise, fpmod.fingerprints
local function hex(s) return (s:gsub(".", function (c) return ("%%02x"):format(c:byte()) end)) end
local function unhex(s) return (s:gsub("..", function (h) return string.char(tonumber(h, 16)) end)) end
for line in io.lines() do
	local body = unhex(line)
	local norm, urls = fp_normalise(body)
	local fp, ufp = fingerprints(body)
	local us = {}
	for i, u in ipairs(urls) do us[i] = hex(u) end
	print(hex(norm), table.concat(us, ","), fp or "-", ufp and hex(ufp) or "-")
end
"""


def lua_run(lua, driver, bodies):
    """What the Lua script driver prints, fed the bodies in hex, a line
    each."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(driver % {"lib": json.dumps(PROSODY_LIB), "fplib": json.dumps(LUA_LIB)})
        path = f.name
    try:
        r = subprocess.run([lua, path], input="".join(b.hex() + "\n" for b in bodies),
                           capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        raise AssertionError("lua failed: %s" % r.stderr)
    return r.stdout


def run_lua(lua, bodies):
    return parse_out(lua_run(lua, LUA_DRIVER, bodies), "\t")


def parse_out(text, sep):
    out = []
    for line in text.splitlines():
        norm, urls, fp, ufp = line.split(sep)
        out.append((bytes.fromhex(norm),
                    [bytes.fromhex(u) for u in urls.split(",") if u],
                    None if fp == "-" else fp,
                    None if ufp == "-" else bytes.fromhex(ufp).decode()))
    return out


ERL_DRIVER = r"""
Hex = fun(B) -> binary:encode_hex(B) end,
Run = fun(Body) ->
    {Norm, Urls} = mod_floodgate:normalise(Body),
    {FP, UFP} = mod_floodgate:fingerprints(Body),
    F = fun(undefined) -> <<"-">>; (X) -> X end,
    H = fun(undefined) -> <<"-">>; (X) -> Hex(X) end,
    io:format("~s|~s|~s|~s~n",
              [Hex(Norm), lists:join(",", [Hex(U) || U <- Urls]), F(FP), H(UFP)])
end,
lists:foreach(Run, [%s]),
halt(0).
"""


def erl_run(erl, ebin, driver, bodies):
    """What the Erlang expression driver prints, given the bodies as a
    list of binaries."""
    lits = ",".join("<<%s>>" % ",".join(str(c) for c in b) for b in bodies)
    r = subprocess.run([erl, "-noshell", "-pa", ebin, "-eval", driver % lits],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("erl failed: %s%s" % (r.stdout, r.stderr))
    return r.stdout


def run_erl(erl, ebin, bodies):
    return parse_out(erl_run(erl, ebin, ERL_DRIVER, bodies).lower(), "|")


# -- checks --------------------------------------------------------------------

def expected(body):
    norm, urls = normalise(body)
    fp, ufp = fingerprints(body)
    return norm, urls, fp, ufp


def check_doc(vecs):
    """The documented vectors are self-consistent and match the reference."""
    bad = 0
    for v in vecs:
        body = v["body"].encode("utf-8")
        norm, urls = normalise(body)
        fp, ufp = fingerprints(body)
        want_norm = v["norm"].encode("utf-8")
        if norm != want_norm:
            print("FAIL doc norm %r: reference %r, doc %r" % (v["body"], norm, want_norm))
            bad += 1
        doc_fp = v.get("fp", "-")
        calc_fp = hex16(want_norm) if doc_fp != "-" else "-"
        if doc_fp != calc_fp or (fp or "-") != doc_fp:
            print("FAIL doc fp %r: doc %s, sha256(norm) %s, reference %s"
                  % (v["body"], doc_fp, calc_fp, fp))
            bad += 1
        doc_urls = [u.encode("utf-8") for u in v["url"]]
        ref_urls = [url_normalise(u) for u in urls]
        ref_urls = [u for u in ref_urls if u is not None]
        if ref_urls[:len(doc_urls)] != doc_urls:
            print("FAIL doc urls %r: reference %r, doc %r" % (v["body"], ref_urls, doc_urls))
            bad += 1
        doc_ufp = v.get("ufp", "-")
        seen = []
        for u in doc_urls:
            if hex16(u) not in seen:
                seen.append(hex16(u))
        calc_ufp = " ".join(seen[:UFP_MAX]) or "-"
        if doc_ufp != calc_ufp or (ufp or "-") != doc_ufp:
            print("FAIL doc ufp %r: doc %s, sha256(urls) %s, reference %s"
                  % (v["body"], doc_ufp, calc_ufp, ufp))
            bad += 1
    return bad


def compare(name, bodies, got):
    bad = 0
    if len(got) != len(bodies):
        print("FAIL %s: %d answers for %d bodies" % (name, len(got), len(bodies)))
        return 1
    for body, g in zip(bodies, got):
        want = expected(body)
        if tuple(g) != want:
            print("FAIL %s %r:\n  got  %r\n  want %r" % (name, body, tuple(g), want))
            bad += 1
    return bad


def main():
    vecs = doc_vectors()
    if len(vecs) < 6:
        print("FAIL: only %d vectors in doc/PROTOCOL.md" % len(vecs))
        return 1
    bad = check_doc(vecs)
    bodies = [v["body"].encode("utf-8") for v in vecs] + list(generated(300))
    lua = shutil.which("lua5.4")
    have_hashes = os.path.exists(os.path.join(PROSODY_LIB, "util", "hashes.so"))
    erl, erlc = shutil.which("erl"), shutil.which("erlc")
    ran = 0
    if lua and have_hashes:
        bad += compare("lua", bodies, run_lua(lua, bodies))
        ran += 1
    else:
        print("SKIP lua: lua5.4 or %s/util/hashes.so missing" % PROSODY_LIB)
    if erl and erlc:
        d = tempfile.mkdtemp(prefix="fgtest-fp-")
        try:
            compile_erl([ERL_SRC], d, erlc)
            bad += compare("erlang", bodies, run_erl(erl, d, bodies))
        finally:
            shutil.rmtree(d, ignore_errors=True)
        ran += 1
    else:
        print("SKIP erlang: erl/erlc missing")
    if ran == 0:
        return SKIP
    print("%d vectors, %d bodies, %d implementations: %s"
          % (len(vecs), len(bodies), ran, "FAIL" if bad else "ok"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
