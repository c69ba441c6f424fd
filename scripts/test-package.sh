#!/bin/sh
# SPDX-License-Identifier: ISC
# Build the Debian package from this tree (a copy in a temporary
# directory), lint it, list it, then install, run and purge it with
# tests/integration/test_package.py. As root on Debian 12; starts and
# stops only what it started itself. Keeps the .debs in $FG_DEB_OUT when
# set.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sh "$top/scripts/deps-package.sh"
work=$(mktemp -d /tmp/fgpkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
src="$work/floodgate"
mkdir "$src"
# the files git knows, plus new ones not ignored: what a commit would hold
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
	tar -C "$src" -xf -
echo "test-package.sh: building in $src"
if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
	dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
	tail -60 "$work/build.log"
	echo "test-package.sh: dpkg-buildpackage failed" >&2
	exit 1
fi
status=0
for deb in "$work"/*.deb; do
	echo "=== dpkg -c $(basename "$deb")"
	dpkg -c "$deb"
done
echo "=== lintian"
lintian --info "$work"/*.changes || status=$?
if [ "$status" -ne 0 ]; then
	echo "test-package.sh: lintian reports errors" >&2
	exit "$status"
fi
if [ -n "${FG_DEB_OUT:-}" ]; then
	mkdir -p "$FG_DEB_OUT" && cp "$work"/*.deb "$FG_DEB_OUT"/
fi
top_srcdir="$top" /usr/bin/python3 "$top/tests/integration/test_package.py" \
	"$work"/*.deb
