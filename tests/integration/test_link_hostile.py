#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The component link against hostile XML, through a scripted XEP-0114
server (fgtest/xep114.py) and the real floodgated:

- linear time: a message whose body is 4 MB of line breaks, and a gate with
  a million empty siblings, are dealt with in seconds (libstrophe's parser
  was quadratic: 1 MB of line breaks took 4.1 s, 4 MB over a minute);
- deep nesting: a gate with 100,000 nested children is answered with an error
  and the daemon lives on (it overflowed the stack, SIGSEGV);
- bad XML: invalid XML, restricted XML (DOCTYPE, entities, comments, PIs)
  and a billion-laughs header: floodgated sends a stream error, closes
  the socket, /healthz and floodgate_link_up say down at once, and it
  reconnects (it used to keep the wedged connection and stay "healthy");
- huge stanzas: a 10 MB text child, a 10 MB attribute and 100k attributes
  close the stream with policy-violation within seconds and memory stays
  bounded (it took 21-67 s and 2.5 GB); 1,000 attributes under the size
  limit drop only that stanza, with an error reply;
- shutdown and reload: SIGTERM while the server keeps its stream open, SIGHUP with a
  changed [component] port, and kill/restart cycles finish cleanly under
  ASan (a link-down callback reached freed state).
"""
import os
import re
import signal
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.xep114 import ScriptedServer  # noqa: E402

IQ = ("<iq type='get' id='%s' from='example.org' to='floodgate.example.org'>"
      "<gate xmlns='urn:floodgate:0' kind='subscribe' from='u%s@example.org'%s>"
      "%s</gate></iq>")


def rss_kb(pid, field="VmHWM"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def no_asan(fg, what):
    check("AddressSanitizer" not in fg.log_text() and
          "runtime error" not in fg.log_text(), "%s: no sanitizer report" % what)


def start(wd, srv, name, **component):
    fg = daemon.Floodgated(wd, srv, name=name,
                           sections={"component": component} if component else None)
    fg.start(wait_link=False)
    peer = srv.peer(10)
    check(peer is not None, "%s: floodgated connected and handshook" % name)
    check(fg.wait_healthy(5), "%s: /healthz is 200 once the link is up" % name)
    return fg, peer


def alive(peer, gid):
    a = peer.gate(gid, "alive-" + gid, timeout=10)
    return a is not None and "type='result'" in a.replace('"', "'")


def big_stanzas(wd, srv):
    fg, peer = start(wd, srv, "big", **{"max-stanza-size": "8m"})
    # linear time: line breaks, then siblings
    t = time.monotonic()
    peer.send("<message id='m1' from='x@example.org' to='floodgate.example.org'>"
              "<body>" + "\n" * (4 << 20) + "</body></message>")
    check(alive(peer, "a1"), "linear time: a gate after a 4 MB body of line breaks "
          "is answered (%.2f s)" % (time.monotonic() - t))
    t = time.monotonic()
    peer.send(IQ % ("s1", "1", "", "<a/>" * 1000000))
    ans = peer.answer("s1", 10)
    check(ans is not None and "policy-violation" in ans,
          "linear time: a gate with 1,000,000 siblings gets policy-violation "
          "(%.2f s)" % (time.monotonic() - t))
    check(fg.metric("floodgate_refused_total", reason="children") == 1,
          "linear time: counted as refused, reason=children")
    # deep nesting: 100,000 levels
    t = time.monotonic()
    peer.send(IQ % ("d1", "2", "", "<a>" * 100000 + "</a>" * 100000))
    ans = peer.answer("d1", 10)
    check(ans is not None and "policy-violation" in ans,
          "deep nesting: 100,000 nested children get policy-violation (%.2f s)"
          % (time.monotonic() - t))
    check(fg.running() and alive(peer, "a2"), "deep nesting: the daemon lives on")
    check(fg.metric("floodgate_refused_total", reason="depth") == 1,
          "deep nesting: counted as refused, reason=depth")
    check(fg.metric("floodgate_link_connects_total") == 1,
          "linear time, deep nesting: the link never flapped")
    check(fg.stop() == 0, "clean exit")
    no_asan(fg, "big")
    peer.close()


def size_limit(wd, srv):
    fg, peer = start(wd, srv, "size")
    base = rss_kb(fg.pid)
    cases = [
        ("10 MB text child", IQ % ("t1", "3", "", "x" * (10 << 20))),
        ("10 MB from attribute",
         "<iq type='get' id='t2' from='" + "a" * (10 << 20) + "'/>"),
        ("100k attributes", IQ % ("t3", "4", "".join(" a%d='1'" % i for i in range(100000)), "")),
    ]
    for i, (what, data) in enumerate(cases):
        t = time.monotonic()
        try:
            peer.send(data)
        except OSError:
            pass  # floodgated hung up before taking it all: fine
        closed = peer.wait_closed(10)
        # the reset of a socket closed with unread input can eat the
        # stream error on our side: the daemon's log says what it sent
        m = fg.wait_log(r"closing the stream with policy-violation", 5)
        check(m is not None and closed, "huge stanzas: %s: policy-violation and the "
              "socket closed (%.2f s)" % (what, time.monotonic() - t))
        peer.close()
        fg._logpos = os.path.getsize(fg.logfile)
        peer = srv.peer(70)
        check(peer is not None and alive(peer, "z%d" % i),
              "huge stanzas: reconnected after the %s" % what)
    grew = rss_kb(fg.pid) - base
    check(grew < 64 * 1024, "huge stanzas: peak RSS grew %d KB (< 64 MB) over 30 MB "
          "of oversized stanzas" % grew)
    peer.send(IQ % ("r1", "5", "".join(" a%d='1'" % i for i in range(1000)), ""))
    ans = peer.answer("r1", 5)
    check(ans is not None and "policy-violation" in ans,
          "huge stanzas: 1,000 attributes: that stanza refused with an error reply")
    check(alive(peer, "a3"), "huge stanzas: ... and the stream goes on")
    check(fg.stop() == 0, "clean exit")
    no_asan(fg, "size")
    peer.close()


BAD = [
    ("mismatched tag", b"<iq type='get' id='b'><a></b></iq>", b"invalid-xml"),
    ("bad UTF-8", b"<message id='b'><body>\xe9t\xe9</body></message>", b"invalid-xml"),
    ("NUL", b"<message id='b'><body>a\x00b</body></message>", b"invalid-xml"),
    ("undefined entity", b"<message id='b'><body>&xxe;</body></message>", b"invalid-xml"),
    ("DOCTYPE mid-stream", b"<!DOCTYPE x [<!ENTITY a 'b'>]><message/>", b"invalid-xml"),
    ("comment", b"<message id='b'><!-- hi --></message>", b"restricted-xml"),
    ("processing instruction", b"<message id='b'><?pi x?></message>", b"restricted-xml"),
]

LAUGHS = (b"<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
          + b"".join(b"<!ENTITY lol%d '%s'>" % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b"]><stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
            b"xmlns='jabber:component:accept' id='&lol9;'>")


def bad_xml(wd, srv):
    for i, (what, data, cond) in enumerate(BAD):
        if i % 3 == 0:  # a fresh daemon: the back-off would grow
            if i:
                check(fg.stop() == 0, "clean exit")
                no_asan(fg, "bad")
            fg, peer = start(wd, srv, "bad%d" % i)
        t = time.monotonic()
        peer.send(data)
        m = peer.read_until(b"<" + cond, 5)
        closed = peer.wait_closed(5)
        code = fg.healthz()[0]
        up = fg.metric("floodgate_link_up")
        check(m is not None and closed, "bad XML: %s: stream error %s and the "
              "socket closed (%.2f s)" % (what, cond.decode(), time.monotonic() - t))
        check(code != 200 and up == 0, "bad XML: %s: /healthz %s and "
              "floodgate_link_up %g at once" % (what, code, up))
        peer.close()
        peer = srv.peer(10)
        check(peer is not None and alive(peer, "b%d" % i),
              "bad XML: %s: reconnected and answering" % what)
    check(fg.stop() == 0, "clean exit")
    no_asan(fg, "bad")
    peer.close()
    # billion laughs in the stream header: no handshake, refused at once
    srv.handshake = False
    fg = daemon.Floodgated(wd, srv, name="laughs")
    fg.start(wait_link=False)
    p = srv.peer(10)
    check(p is not None and p.read_until(rb"<stream:stream[^>]*>", 5) is not None,
          "bad XML: floodgated opened a stream")
    t = time.monotonic()
    p.send(LAUGHS)
    m = p.read_until(b"<restricted-xml", 5)
    check(m is not None and p.wait_closed(5),
          "bad XML: billion laughs in the header: restricted-xml and closed "
          "(%.2f s)" % (time.monotonic() - t))
    check(fg.running(), "bad XML: the daemon is fine")
    srv.handshake = True
    check(fg.stop() == 0, "clean exit")
    no_asan(fg, "laughs")
    p.close()


def lifecycle(wd, srv):
    srv2 = ScriptedServer()
    try:
        # SIGTERM while the server never closes its stream
        fg, peer = start(wd, srv, "term")
        t = time.monotonic()
        rc = fg.stop()
        check(rc == 0, "shutdown and reload: SIGTERM with an open stream: exit %s (%.2f s)"
              % (rc, time.monotonic() - t))
        no_asan(fg, "shutdown and reload: SIGTERM")
        check(peer.wait_closed(2), "shutdown and reload: the socket was closed")
        peer.close()
        # SIGHUP with a changed port
        fg, peer = start(wd, srv, "hup")
        fg.server = srv2
        fg.write_config()
        fg.proc.send_signal(signal.SIGHUP)
        p2 = srv2.peer(10)
        check(p2 is not None and alive(p2, "h1"),
              "shutdown and reload: SIGHUP with a new port: the link moved")
        check(peer.wait_closed(5), "shutdown and reload: the old stream was closed")
        check(fg.stop() == 0, "shutdown and reload: clean exit after the SIGHUP")
        no_asan(fg, "shutdown and reload: SIGHUP")
        peer.close()
        p2.close()
        # kill/restart cycles
        for i in range(3):
            fg, peer = start(wd, srv, "cycle%d" % i)
            if i == 1:
                fg.kill()
            else:
                check(fg.stop() == 0, "shutdown and reload: cycle %d: clean exit" % i)
                no_asan(fg, "shutdown and reload: cycle %d" % i)
            peer.close()
    finally:
        srv2.close()


def main():
    if not daemon.available():
        skip("floodgated not built")
    srv = ScriptedServer()
    try:
        with Workdir("link-hostile") as wd:
            big_stanzas(wd, srv)
            size_limit(wd, srv)
            bad_xml(wd, srv)
            lifecycle(wd, srv)
    finally:
        srv.close()


if __name__ == "__main__":
    main()
