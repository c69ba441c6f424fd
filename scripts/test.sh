#!/bin/sh
# SPDX-License-Identifier: ISC
# The whole suite on a fresh Debian 12 machine (as root): dependencies,
# a sanitizer build, unit tests under ASan+UBSan, integration tests
# against real Prosody and ejabberd, make distcheck, make install and
# uninstall of a production build, then the Debian package built,
# linted, installed, run and purged.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh
sh scripts/build.sh --sanitize
cd build
status=0
make -j2 check || status=$?
for f in tests/*.log tests/integration/*.log; do
	[ -f "$f" ] || continue
	grep -q "^# \(FAIL\|ERROR\)\|^FAIL\|^ERROR" "$f" 2>/dev/null &&
		{ echo "=== $f"; tail -60 "$f"; }
done
if [ "$status" -ne 0 ]; then
	echo "test.sh: make check failed" >&2
	exit "$status"
fi
# distcheck rebuilds from the tarball; the integration tests already ran
FG_SKIP_INTEGRATION=1 make distcheck \
	DISTCHECK_CONFIGURE_FLAGS= AM_MAKEFLAGS=-j2
cd "$top"
sh scripts/test-install.sh
# 77: skipped (a floodgate package is already installed here)
pkg=0
sh scripts/test-package.sh || pkg=$?
if [ "$pkg" -ne 0 ] && [ "$pkg" -ne 77 ]; then
	echo "test.sh: package test failed" >&2
	exit "$pkg"
fi
echo "test.sh: all passed"
