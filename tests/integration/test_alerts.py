#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Alerts against a real Prosody and a real floodgated.

Six bots send the same spam link to strangers, round-robin, twice: a
content wave, and every bot quarantined. Expected:
- the admin (a slixmpp client) receives exactly one chat digest from the
  component for the wave, within the [alerts] interval, naming the wave
  and each bot with its floodgatectl inspect and unblock commands;
- a second admin who opted out with the ad-hoc command "alerts"
  receives nothing;
- the webhook, a local HTTPS server with a certificate made here by
  openssl and trusted through [alerts] ca-file, receives the same events
  as one JSON document.
"""
import json
import os
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.adhoc import enable, run_command  # noqa: E402
from fgtest.client import connect, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.ports import LOOPBACK, free_port  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

NBOTS = 6
INTERVAL = 12  # [alerts] interval, seconds
SPAM = "Great offer!!! visit http://cheap-pills.example/buy now"


class Hook(BaseHTTPRequestHandler):
    bodies = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Hook.bodies.append((self.headers.get("Content-Type"), self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_):
        pass


def https_server(wd):
    """A local HTTPS server on a free port with a fresh self-signed
    certificate for 127.0.0.1; returns (server, port, cert path)."""
    cert, key = os.path.join(wd, "hook.pem"), os.path.join(wd, "hook.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=%s" % LOOPBACK,
                    "-addext", "subjectAltName=IP:%s" % LOOPBACK],
                   check=True, capture_output=True)
    port = free_port()
    httpd = HTTPServer((LOOPBACK, port), Hook)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, port, cert


def digests(client, comp):
    return [b for f, b in client.messages if f == comp]


async def scenario(srv, fg, r):
    d, comp = srv.domain, srv.component_jid
    admin = await connect(srv, "admin", "pw")
    quiet = await connect(srv, "quiet", "pw")
    bots = await connect_many(srv, ["bot%d" % i for i in range(NBOTS)])
    strangers = await connect_many(srv, ["s%02d" % i for i in range(2 * NBOTS)])
    clients = [admin, quiet] + bots + strangers
    try:
        # the second admin opts out
        await enable(quiet)
        rep = await run_command(quiet, comp, "alerts", {"alerts": "0"})
        r["optout"] = (rep.status, rep.note(), rep.error)
        t0 = time.monotonic()
        for rnd in range(2):
            for i, b in enumerate(bots):
                b.message("s%02d@%s" % (2 * i + rnd, d), SPAM)
        r["wave_sent"] = time.monotonic() - t0
        await wait_until(lambda: digests(admin, comp), INTERVAL + 5)
        r["first_after"] = time.monotonic() - t0
        # nothing more within the interval that follows
        await wait_until(lambda: len(digests(admin, comp)) > 1, INTERVAL - 2)
        r["digests"] = digests(admin, comp)
        r["quiet"] = digests(quiet, comp)
    finally:
        await disconnect_all(clients)


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    with Workdir("alerts") as wd:
        httpd, port, cert = https_server(wd)
        srv = ProsodyServer(os.path.join(wd, "prosody"))
        fg = daemon.Floodgated(
            os.path.join(wd, "fg"), srv,
            admins=["admin@" + srv.domain, "quiet@" + srv.domain],
            sections={"alerts": {"interval": "%ds" % INTERVAL,
                                 "webhook": "https://%s:%d/hook" % (LOOPBACK, port),
                                 "ca-file": cert}})
        try:
            srv.start()
            users = ["admin", "quiet"] + ["bot%d" % i for i in range(NBOTS)] + \
                ["s%02d" % i for i in range(2 * NBOTS)]
            srv.register_many([(u, "pw") for u in users])
            fg.start()
            r = {}
            run(scenario(srv, fg, r), timeout=120)
            d = srv.domain
            print("wave sent in %.2f s; first digest after %.1f s"
                  % (r["wave_sent"], r["first_after"]))
            for m in r["digests"]:
                print("digest:\n" + m)
            check("alerts off" in str(r["optout"]),
                  "the ad-hoc command alerts turns them off (%s)" % (r["optout"],))
            check(len(r["digests"]) == 1,
                  "exactly one digest in the interval (%d)" % len(r["digests"]))
            text = r["digests"][0]
            check("content-wave" in text, "the digest names the content wave")
            for i in range(NBOTS):
                jid = "bot%d@%s" % (i, d)
                check("floodgatectl inspect account:%s" % jid in text and
                      "floodgatectl unblock account:%s" % jid in text,
                      "the digest names inspect and unblock for %s" % jid)
            check(r["first_after"] <= INTERVAL,
                  "the digest arrived within the interval (%.1f s)" % r["first_after"])
            check(r["quiet"] == [], "the admin who opted out got nothing")
            end = time.monotonic() + 10
            while not Hook.bodies and time.monotonic() < end:
                time.sleep(0.2)
            check(len(Hook.bodies) >= 1, "the webhook received %d POST(s)" % len(Hook.bodies))
            ctype, body = Hook.bodies[0]
            doc = json.loads(body)
            kinds = sorted({e["kind"] for e in doc["events"]})
            subjects = {e.get("subject") for e in doc["events"]}
            print("webhook: %s, %d events, kinds %s" % (ctype, len(doc["events"]), kinds))
            check(ctype == "application/json", "the webhook body is application/json")
            check("content-wave" in kinds and "verdict" in kinds,
                  "the webhook carries the wave and the verdicts (%s)" % kinds)
            check(all("bot%d@%s" % (i, d) in subjects for i in range(NBOTS)),
                  "the webhook names every bot")
            check(fg.metric("floodgate_webhook_posts_total", result="sent") >= 1,
                  "floodgate counts the POST as sent")
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            raise
        finally:
            fg.stop()
            srv.stop()
            httpd.shutdown()
    print("PASS test_alerts")


if __name__ == "__main__":
    main()
