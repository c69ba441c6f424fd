# SPDX-License-Identifier: ISC
"""A scripted XEP-0114 server side, for tests that need to send the daemon
bytes no real server would (hostile XML, huge stanzas) or to misbehave
(never close a stream, stop reading).

    srv = ScriptedServer()            # listens on 127.0.0.1, free port
    fg = daemon.Floodgated(wd, srv)   # same attributes as a real server
    fg.start()
    peer = srv.peer()                 # the handshaken connection
    peer.gate("g1", "bot@example.org")  # -> the answer's text
    peer.send(b"<iq ...")             # raw bytes
    peer.wait_closed(5)               # True when floodgated hung up
    srv.close()

The handshake is checked for real: SHA-1 of the stream id and the secret.
"""
import hashlib
import queue
import re
import socket
import threading
import time

from .ports import LOOPBACK

STREAM_NS = "http://etherx.jabber.org/streams"


class Peer:
    def __init__(self, sock, srv, n):
        self.sock = sock
        self.srv = srv
        self.buf = b""
        self.eof = False
        self.stream_id = "fgtest%d" % n

    def _fill(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            d = self.sock.recv(1 << 20)
        except socket.timeout:
            return False
        except OSError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def read_until(self, pattern, timeout=5.0):
        """Wait for a regular expression (bytes) in what floodgated sent;
        returns the match (and consumes the text up to its end) or None."""
        rx = re.compile(pattern, re.S)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0 or self.eof:
                return None
            self._fill(left)

    def handshake(self, timeout=5.0):
        if not self.read_until(rb"<stream:stream[^>]*>", timeout):
            raise RuntimeError("no stream header from floodgated")
        self.send(("<?xml version='1.0'?><stream:stream xmlns:stream='%s' "
                   "xmlns='jabber:component:accept' from='%s' id='%s'>"
                   % (STREAM_NS, self.srv.component_jid, self.stream_id)).encode())
        m = self.read_until(rb"<handshake[^>]*>([0-9a-f]*)</handshake>", timeout)
        want = hashlib.sha1((self.stream_id + self.srv.secret).encode()).hexdigest()
        if not m or m.group(1).decode() != want:
            self.send(b"<stream:error><not-authorized xmlns='urn:ietf:params:"
                      b"xml:ns:xmpp-streams'/></stream:error></stream:stream>")
            raise RuntimeError("bad handshake from floodgated")
        self.send(b"<handshake/>")

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.settimeout(30)
        self.sock.sendall(data)

    def gate_xml(self, gid, who, kind="subscribe"):
        return ("<iq type='get' id='%s' from='%s' to='%s'><gate xmlns="
                "'urn:floodgate:0' kind='%s' from='%s' to='alice@remote."
                "example'/></iq>" % (gid, self.srv.domain, self.srv.component_jid,
                                      kind, who))

    def answer(self, gid, timeout=5.0):
        """The text of the stanza answering id gid, or None."""
        m = self.read_until(rb"<iq[^>]*id=['\"]" + re.escape(gid.encode()) +
                            rb"['\"].*?(</iq>|/>)", timeout)
        return m.group(0).decode("utf-8", "replace") if m else None

    def gate(self, gid, who, timeout=5.0):
        self.send(self.gate_xml(gid, who))
        return self.answer(gid, timeout)

    def wait_closed(self, timeout=5.0):
        """True once floodgated closed the connection."""
        end = time.monotonic() + timeout
        while not self.eof and time.monotonic() < end:
            self._fill(end - time.monotonic())
        return self.eof

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class ScriptedServer:
    def __init__(self, domain="example.org", secret="s3cret-xep114"):
        self.domain = domain
        self.component_jid = "floodgate." + domain
        self.secret = secret
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((LOOPBACK, 0))
        self.lsock.listen(8)
        self.component_port = self.lsock.getsockname()[1]
        self.accepted = queue.Queue()
        self.connections = 0
        self.handshake = True
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self._stop:
            try:
                s, _ = self.lsock.accept()
            except OSError:
                return
            self.connections += 1
            p = Peer(s, self, self.connections)
            try:
                if self.handshake:
                    p.handshake()
            except (RuntimeError, OSError):
                p.close()
                continue
            self.accepted.put(p)

    def peer(self, timeout=10.0):
        """The next handshaken connection from floodgated, or None."""
        try:
            return self.accepted.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        self._stop = True
        try:
            self.lsock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.lsock.close()
