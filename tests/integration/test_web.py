#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The moderation page in a real browser (headless Debian chromium via
selenium), against a real Prosody and floodgated.

- a small registration wave and two failed logins feed the charts;
- a bot floods invitations and ends quarantined;
- the admin asks for a one-time link with the ad-hoc command web-login
  (and floodgatectl web-login gives one too; a non-admin gets none);
- without a session every page redirects to the explanation page;
- the browser logs in through the link, sees the bot in the review
  queue with its evidence, unblocks it with a reason; the audit names
  the admin; the bot's next invitation is delivered;
- a second use of the link fails;
- a forged POST without the CSRF token (urllib, with the session
  cookie) is refused and changes nothing;
- screenshots of the queue and of the charts page are written to the
  test's log directory (FGTEST_LOGDIR, else tests/integration/test_web.d
  in the build tree).
"""
import asyncio
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from fgtest import Workdir, check, skip, top_builddir  # noqa: E402
from fgtest import daemon  # noqa: E402
from fgtest.adhoc import enable, command, ibr_register  # noqa: E402
from fgtest.client import RawSession, connect, connect_many, disconnect_all, run, wait_until  # noqa: E402
from fgtest.prosody import ProsodyServer  # noqa: E402

FLOOD = 12
WAVE = 3     # registrations in a minute that make a wave here (with wave-factor
#              2: a fresh rate's baseline counts as wave-min / 2 a minute)
BURST = 4
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"


def log_dir():
    d = os.environ.get("FGTEST_LOGDIR") or os.path.join(
        top_builddir(), "tests", "integration", "test_web.d")
    os.makedirs(d, exist_ok=True)
    return d


def raw(fg, method, path, body=None, cookie=None):
    """One request without following redirects: (status, headers, text)."""
    c = http.client.HTTPConnection("127.0.0.1", fg.http_port, timeout=5)
    hdrs = {}
    if cookie:
        hdrs["Cookie"] = cookie
    if body is not None:
        body = urllib.parse.urlencode(body)
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    c.request(method, path, body=body, headers=hdrs)
    r = c.getresponse()
    out = (r.status, {k.lower(): v for k, v in r.getheaders()},
           r.read().decode("utf-8", "replace"))
    c.close()
    return out


def raw_bytes(fg, data, pause_after=None, pause=0.3):
    """Send bytes (in two parts around pause_after) and read the answer's
    status line (None if the connection closed without one)."""
    import socket
    s = socket.create_connection(("127.0.0.1", fg.http_port), timeout=6)
    try:
        if pause_after is None:
            s.sendall(data)
        else:
            s.sendall(data[:pause_after])
            time.sleep(pause)
            s.sendall(data[pause_after:])
        buf = b""
        while b"\r\n" not in buf:
            got = s.recv(4096)
            if not got:
                break
            buf += got
        line = buf.split(b"\r\n", 1)[0].decode("latin-1")
        return int(line.split()[1]) if line.startswith("HTTP/1.1 ") else None
    finally:
        s.close()


def http_bounds(fg):
    """POST on the listener: only under /admin, with a length, bounded."""
    form = b"verb=block&subject=victim%40fg.test"
    cases = [
        ("POST to /metrics", b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405),
        ("POST without Content-Length",
         b"POST /admin/act HTTP/1.1\r\nHost: x\r\n\r\n", 411),
        ("POST over 16 KiB", b"POST /admin/act HTTP/1.1\r\nContent-Length: 16385\r\n\r\n", 413),
        ("a chunked POST", b"POST /admin/act HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
         b"0\r\n\r\n", 400),
        ("two Cookie headers", b"GET /admin/ HTTP/1.1\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n", 400),
        ("a POST without a session",
         b"POST /admin/act HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
         b"Content-Length: %d\r\n\r\n%s" % (len(form), form), 403),
    ]
    for what, data, want in cases:
        got = raw_bytes(fg, data)
        check(got == want, "%s: %s (%s)" % (what, want, got))
    # the body in a second packet is waited for
    data = (b"POST /admin/login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded"
            b"\r\nContent-Length: 66\r\n\r\nt=" + b"0" * 64)
    got = raw_bytes(fg, data, pause_after=len(data) - 30)
    check(got == 403, "a body arriving after its head is read whole (%s)" % got)
    st, _ = fg.http_get("/metrics")
    check(st == 200, "/metrics still answers")


def titled(drv, text, timeout=10):
    """Wait for the page (after a click, which does not wait for the
    next page) whose title contains text; the title seen last."""
    end = time.monotonic() + timeout
    while text not in drv.title and time.monotonic() < end:
        time.sleep(0.05)
    return drv.title


def verdicts(srv, jid):
    return re.findall(r"Verdict account %s: (\w+)" % re.escape(jid), srv.log_text())


async def scenario(srv, between, r):
    """The bot floods, then between() (the browser's part, in a thread)
    runs while the bot stays logged in; then the bot invites the victim.
    (A new login would make Prosody resend the bot's pending requests,
    which would spend its fresh allowance before the invitation.)"""
    d = srv.domain
    targets = ["t%02d" % i for i in range(FLOOD)]
    bot = await connect(srv, "spambot", "pw")
    victim = await connect(srv, "victim", "pw")
    tcs = await connect_many(srv, targets)
    try:
        for t in targets:
            bot.subscribe("%s@%s" % (t, d))
        await wait_until(lambda: len(bot.errors) + sum(
            1 for c in tcs if "spambot@" + d in c.subscriptions) >= FLOOD, 15)
        r["flood_errors"] = len(bot.errors)
        await asyncio.get_running_loop().run_in_executor(None, between)
        nerr = len(bot.errors)
        bot.subscribe("victim@" + d)
        await wait_until(lambda: victim.subscriptions or len(bot.errors) > nerr, 5)
        await asyncio.sleep(0.3)
        r["delivered"] = "spambot@" + d in victim.subscriptions
        r["errors"] = [e[2] for e in bot.errors[nerr:]]
    finally:
        await disconnect_all([bot, victim] + tcs)


async def web_login(srv, fg):
    admin = await connect(srv, "admin", "pw")
    try:
        await enable(admin)
        r = await command(admin, srv.component_jid, "web-login")
        print("web-login reply: %r" % r)
        return r.value("url"), r.note("info")
    finally:
        await disconnect_all([admin])


def browser(tmp):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1280,1600",
              "--user-data-dir=%s" % os.path.join(tmp, "profile")):
        opts.add_argument(a)
    svc = Service(CHROMEDRIVER, log_path=os.path.join(tmp, "chromedriver.log"))
    return webdriver.Chrome(service=svc, options=opts)


def main():
    if not daemon.available():
        skip("floodgated not built at %s" % daemon.binary())
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        skip("chromium or chromedriver not installed")
    try:
        import selenium  # noqa: F401
        from selenium.webdriver.common.by import By
    except ImportError:
        skip("python3-selenium not installed")
    ctl_bin = os.path.join(top_builddir(), "floodgatectl")
    logs = log_dir()
    with Workdir("web") as wd:
        srv = ProsodyServer(os.path.join(wd, "prosody"),
                            global_options={"allow_registration": True,
                                            "min_seconds_between_registrations": 0})
        d = srv.domain
        fg = daemon.Floodgated(os.path.join(wd, "fg"), srv, admins=["admin@" + d],
                               limits={"account.subscribe": "%d/min burst %d" % (BURST, BURST),
                                       "ip.register": "100/min burst 100"},
                               sections={"detect.registration": {"wave-min": str(WAVE),
                                                                 "wave-factor": "2"}})
        drv = None
        try:
            srv.start()
            srv.register_many([(u, "pw") for u in ["spambot", "admin", "victim"] +
                               ["t%02d" % i for i in range(FLOOD)]])
            fg.start()
            base = "http://127.0.0.1:%d" % fg.http_port

            st8 = {}

            # a small registration wave, for the registrations chart
            for i in range(WAVE + 2):
                check(ibr_register(srv, "new%d" % i, "pw"), "in-band registration of new%d" % i)
            m = fg.wait_log(r"registration wave", timeout=5)
            check(m, "the registrations make a wave")

            def between():
                # two wrong passwords, for the failed-logins chart
                for _ in range(2):
                    s = RawSession(srv)
                    check(s.login("victim", "wrong") is not True, "a wrong password fails")
                    s.close()
                ok = run(wait_until(lambda: (verdicts(srv, "spambot@" + d) or [""])[-1] == "quarantine", 10))
                check(ok, "the flooding bot is quarantined (%s)" % verdicts(srv, "spambot@" + d))

                # no session: every page redirects to the explanation
                for p in ("/admin/", "/admin", "/admin/charts", "/admin/hits",
                          "/admin/subject?s=spambot%40" + d):
                    st, h, _ = raw(fg, "GET", p)
                    check(st == 303 and h.get("location") == "/admin/why",
                          "GET %s without a session: %s to %s" % (p, st, h.get("location")))
                st, h, body = raw(fg, "GET", "/admin/why")
                check(st == 200 and "web-login" in body, "the explanation names web-login")
                csp = h.get("content-security-policy", "")
                check("default-src 'none'" in csp and "script" not in csp,
                      "a strict CSP without scripts (%s)" % csp)
                st, _, _ = raw(fg, "POST", "/admin/act", {"verb": "block", "subject": "victim@" + d})
                check(st == 403, "a POST without a session is refused (%s)" % st)
                http_bounds(fg)

                # links: ad-hoc for the admin, floodgatectl too, nobody else
                url, note = run(web_login(srv, fg), timeout=30)
                check(url and url.startswith(base + "/admin/login?t="),
                      "ad-hoc web-login gives a one-time link (%s)" % url)
                r = subprocess.run([ctl_bin, "web-login", "-c", fg.config, "admin@" + d],
                                   capture_output=True, text=True, timeout=30)
                check(r.returncode == 0 and base + "/admin/login?t=" in r.stdout,
                      "floodgatectl web-login prints a link (%s)" % r.stdout.strip())
                r = subprocess.run([ctl_bin, "web-login", "--json", "-c", fg.config, "admin@" + d],
                                   capture_output=True, text=True, timeout=30)
                j = json.loads(r.stdout)
                check(r.returncode == 0 and j["ok"] and j["url"].startswith(base + "/admin/login?t="),
                      "floodgatectl web-login --json gives the link as url")
                r = subprocess.run([ctl_bin, "web-login", "-c", fg.config, "victim@" + d],
                                   capture_output=True, text=True, timeout=30)
                check(r.returncode == 1 and "login" not in r.stdout,
                      "floodgatectl web-login for a non-admin is refused (%d: %s)"
                      % (r.returncode, r.stderr.strip()))

                tmp = tempfile.mkdtemp(prefix="fgtest-chromium-")
                drv = st8["drv"] = browser(tmp)
                drv.get(url)
                drv.find_element(By.ID, "login").click()
                t = titled(drv, "Logged in")
                check("Logged in" in t, "the link logs the browser in (%s)" % t)
                cookie = drv.get_cookie("fg_session")
                check(cookie and cookie.get("httpOnly") and cookie.get("sameSite") == "Strict",
                      "the session cookie is HttpOnly and SameSite=Strict (%s)"
                      % {k: cookie.get(k) for k in ("httpOnly", "sameSite", "expiry")} if cookie else None)
                check(cookie.get("expiry"), "the session cookie expires")
                drv.get(base + "/admin/")
                queue = drv.find_element(By.ID, "queue")
                rows = [tr for tr in queue.find_elements(By.TAG_NAME, "tr")
                        if "spambot@" + d in tr.text]
                check(len(rows) == 1, "the bot is in the review queue")
                row = rows[0]
                check("quarantine" in row.text and "overflow-subscribe" in row.text,
                      "with its verdict and evidence (%s)" % row.text.replace("\n", " | "))
                shot = os.path.join(logs, "queue.png")
                drv.save_screenshot(shot)
                print("screenshot: %s" % shot)
                check(os.path.getsize(shot) > 1000, "queue screenshot written")

                # a forged POST with the session but without the token
                sess = "fg_session=%s" % cookie["value"]
                st, _, body = raw(fg, "POST", "/admin/act",
                                  {"verb": "block", "subject": "victim@" + d, "reason": "x"},
                                  cookie=sess)
                check(st == 403 and "token" in body, "a POST without the CSRF token is refused (%s)" % st)
                st, _, _ = raw(fg, "POST", "/admin/act",
                               {"csrf": "0" * 64, "verb": "block", "subject": "victim@" + d,
                                "reason": "x"}, cookie=sess)
                check(st == 403, "a POST with a wrong CSRF token is refused (%s)" % st)
                r = subprocess.run([ctl_bin, "inspect", "-c", fg.config, "victim@" + d],
                                   capture_output=True, text=True, timeout=30)
                check("verdict:   allow" in r.stdout, "the forged block did nothing")

                # unblock with a reason, from the queue row
                form = [f for f in row.find_elements(By.TAG_NAME, "form")
                        if f.find_elements(By.CSS_SELECTOR, "button[value=unblock]")][0]
                form.find_element(By.NAME, "reason").send_keys("looked at it: a test account")
                form.find_element(By.CSS_SELECTOR, "button[value=unblock]").click()
                titled(drv, "Done")
                res = drv.find_element(By.ID, "result").text
                check("unblocked" in res, "the page says it unblocked the bot (%s)" % res)
                ok = run(wait_until(lambda: (verdicts(srv, "spambot@" + d) or [""])[-1] == "allow", 5))
                check(ok, "the unblock reached Prosody")
                st8["sess"] = sess
                st8["url"] = url

            r = {}
            try:
                run(scenario(srv, between, r), timeout=240)
            finally:
                drv = st8.get("drv")
            sess, url = st8["sess"], st8["url"]
            check(r["delivered"] and not r["errors"],
                  "the bot's next invitation is delivered (%s)" % r["errors"])
            r = subprocess.run([ctl_bin, "inspect", "--json", "-c", fg.config, "spambot@" + d],
                               capture_output=True, text=True, timeout=30)
            check('"actor":"admin@%s"' % d in r.stdout and "a test account" in r.stdout,
                  "the audit names the admin and the reason")

            # the subject page shows the timeline
            drv.get(base + "/admin/subject?s=spambot%40" + d)
            tl = drv.find_element(By.ID, "timeline").text
            drv.save_screenshot(os.path.join(logs, "subject.png"))
            check("admin@" + d in tl and "quarantine" in tl,
                  "the subject page shows the timeline with the quarantine and the unblock")

            # hits and charts
            drv.get(base + "/admin/hits")
            hits = drv.find_element(By.ID, "hits").text
            drv.save_screenshot(os.path.join(logs, "hits.png"))
            check("spambot@" + d in hits, "recent limit hits list the bot")
            drv.get(base + "/admin/charts")
            svgs = drv.find_elements(By.TAG_NAME, "svg")
            check(len(svgs) >= 3, "the charts page draws SVG charts (%d)" % len(svgs))
            bars = drv.find_elements(By.CSS_SELECTOR, "#refusals rect")
            check(len(bars) >= 1, "the refusals chart has bars (%d)" % len(bars))
            regs = [t.get_attribute("textContent") for t in
                    drv.find_elements(By.CSS_SELECTOR, "#registrations rect title")]
            check("wave" in regs and "registrations: %d" % (WAVE + 2) in regs,
                  "the registrations chart counts them and marks the wave (%s)" % regs)
            nets = drv.find_elements(By.CSS_SELECTOR, "#logins rect title")
            titles = [t.get_attribute("textContent") for t in nets]
            check(any(t.startswith("127.0.0.0/24: ") for t in titles),
                  "the failed logins are charted for their network (%s)" % titles)
            shot = os.path.join(logs, "charts.png")
            drv.save_screenshot(shot)
            print("screenshot: %s" % shot)
            check(os.path.getsize(shot) > 1000, "charts screenshot written")
            logs_js = [e for e in drv.get_log("browser")] if hasattr(drv, "get_log") else []
            check(not [e for e in logs_js if "Content Security Policy" in e.get("message", "")],
                  "no CSP violation in the browser's log")

            # the link is good once
            drv.get(url)
            check("not valid" in drv.title, "a second use of the link fails (%s)" % drv.title)
            tok = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["t"][0]
            st, h, _ = raw(fg, "POST", "/admin/login", {"t": tok})
            check(st == 403 and "set-cookie" not in h, "and gives no cookie (%s)" % st)

            # logout ends it
            drv.get(base + "/admin/")
            drv.find_element(By.ID, "logout").click()
            t = titled(drv, "Log in first")
            check("Log in first" in t, "after logout the explanation page shows (%s)" % t)
            st, _, _ = raw(fg, "GET", "/admin/", cookie=sess)
            check(st == 303, "the old cookie no longer opens the queue")

            log = fg.log_text()
            for name in ("AddressSanitizer", "runtime error", "LeakSanitizer"):
                check(name not in log, "no %s report" % name)
        except BaseException:
            srv.dump_log()
            fg.dump_log()
            raise
        finally:
            if drv is not None:
                drv.quit()
            fg.stop()
            srv.stop()
    print("PASS test_web")


if __name__ == "__main__":
    main()
