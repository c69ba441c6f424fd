"""fgtest: shared harness for floodgate's integration tests.

Tests start real servers (Prosody here, ejabberd in ejabberd.py) and the
real floodgated on 127.0.0.1 with free ports and temporary directories, and
talk to them with slixmpp. Every server object offers the same small API:

    srv.domain, srv.c2s_port, srv.component_port, srv.component_jid,
    srv.secret, srv.register(user, pw), srv.register_many(pairs),
    srv.start(), srv.stop(), srv.log_text()

Exit code 77 means "skipped" (automake convention); use skip() for it.
"""
import os
import sys

SKIP = 77

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/integration/fgtest -> repository root
DEFAULT_SRCDIR = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def top_srcdir():
    return os.environ.get("top_srcdir") or DEFAULT_SRCDIR


def top_builddir():
    return os.environ.get("top_builddir") or os.path.join(top_srcdir(), "build")


def skip(why):
    print("SKIP: %s" % why)
    sys.exit(SKIP)


def check(cond, what):
    """Assert with a message that says what was measured."""
    if not cond:
        raise AssertionError(what)
    print("ok: %s" % what)
