# SPDX-License-Identifier: ISC
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


class Workdir:
    """A temporary directory for one test: removed on success, kept (and
    printed) on failure so the logs can be read."""

    def __init__(self, name):
        import tempfile
        self.path = tempfile.mkdtemp(prefix="fgtest-%s-" % name)

    def __enter__(self):
        return self.path

    def __exit__(self, exc_type, *_):
        import shutil
        if exc_type is None and not os.environ.get("FGTEST_KEEP"):
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            print("test files kept in %s" % self.path)
