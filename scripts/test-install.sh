#!/bin/sh
# SPDX-License-Identifier: ISC
# make install / uninstall from a plain (production) build: what lands
# where, the unit passes systemd-analyze verify, the man pages format
# without warnings, the programs' defaults follow configure's directories,
# and a reconfigure with other directories rebuilds what embeds them.
# Needs no root; writes only under a temporary directory.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
work=$(mktemp -d /tmp/fginst.XXXXXX)
trap '[ "$?" -eq 0 ] && rm -rf "$work" || echo "test-install.sh: files kept in $work"' EXIT
fail() {
	echo "not ok: $*" >&2
	exit 1
}
ok() { echo "ok: $*"; }

cd "$work" && mkdir b && cd b
"$top/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
	--runstatedir=/run >../configure.log 2>&1 || fail "configure"
grep -q "cannot remove 'core'" ../configure.log &&
	fail "configure printed rm: cannot remove 'core'"
ok "configure (no 'rm: cannot remove core')"
make -j2 >../make.log 2>&1 || { tail -30 ../make.log; fail "make"; }
make install DESTDIR="$work/d" >/dev/null || fail "make install"
(cd "$work/d" && find . -type f | sort) >../files
cat ../files
for f in ./usr/sbin/floodgated ./usr/bin/floodgatectl \
    ./usr/share/man/man8/floodgated.8 ./usr/share/man/man8/floodgatectl.8 \
    ./usr/share/man/man5/floodgate.ini.5 \
    ./usr/share/floodgate/floodgate.ini.example \
    ./usr/lib/systemd/system/floodgated.service \
    ./usr/share/floodgate/prosody/mod_floodgate.lua \
    ./usr/share/floodgate/prosody/floodgate_fingerprint.lib.lua \
    ./usr/share/floodgate/ejabberd/mod_floodgate/mod_floodgate.spec \
    ./usr/share/floodgate/ejabberd/mod_floodgate/src/mod_floodgate.erl \
    ./usr/share/doc/floodgate/COPYING ./usr/share/doc/floodgate/README.md; do
	grep -qx "$f" ../files || fail "make install did not install $f"
done
ok "make install DESTDIR: programs, man pages, unit, example, modules, docs"

unit="$work/d/usr/lib/systemd/system/floodgated.service"
grep -q "^ExecStart=/usr/sbin/floodgated -d -c /etc/floodgate/floodgate.ini$" \
	"$unit" || fail "unit ExecStart"
# verify resolves ExecStart= and man: on this machine: point both at
# the staged tree
sed "s|=/usr/sbin/|=$work/d/usr/sbin/|" "$unit" >"$work/floodgated.service"
MANPATH="$work/d/usr/share/man" systemd-analyze verify \
	"$work/floodgated.service" || fail "systemd-analyze verify"
ok "systemd-analyze verify floodgated.service"
for m in "$work"/d/usr/share/man/man*/*; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l -Tutf8 -Z "$m" 2>&1 >/dev/null)
	[ -z "$w" ] || fail "$m: $w"
done
ok "man pages format without warnings"

grep -q "^path = /var/lib/floodgate/floodgate.db$" \
	"$work/d/usr/share/floodgate/floodgate.ini.example" &&
	grep -q "^socket = /run/floodgate/floodgated.sock$" \
		"$work/d/usr/share/floodgate/floodgate.ini.example" ||
	fail "example configuration paths"
# what floodgatectl says, not its bytes: the compiler may build a
# constant path from immediates
defaults() {
	env -u FLOODGATE_SOCKET ./floodgatectl stats --help 2>&1 || :
	env -u FLOODGATE_SOCKET ./floodgatectl stats 2>&1 || :
}
defaults | grep -F -q "/run/floodgate/floodgated.sock" &&
	defaults | grep -F -q "/etc/floodgate/floodgate.ini" ||
	fail "floodgatectl defaults: $(defaults)"
ok "example and floodgatectl: /etc/floodgate/floodgate.ini, /var/lib/floodgate, /run/floodgate"

"$top/configure" --prefix=/usr --sysconfdir=/opt/fgetc --localstatedir=/var \
	--runstatedir=/opt/fgrun >../configure2.log 2>&1 || fail "reconfigure"
# core/ exists now: autoconf's "rm -f core" cleanups would complain
grep -q "cannot remove 'core'" ../configure2.log &&
	fail "reconfigure printed rm: cannot remove 'core'"
[ ! -e confdefs.h ] || fail "reconfigure left confdefs.h behind"
make -j2 >../make2.log 2>&1 || fail "make after reconfigure"
defaults | grep -F -q "/opt/fgetc/floodgate/floodgate.ini" &&
	defaults | grep -F -q "/opt/fgrun/floodgate/floodgated.sock" ||
	fail "a reconfigure with other directories did not rebuild floodgatectl"
ok "reconfigure with other directories rebuilds floodgatectl's defaults"

"$top/configure" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
	--runstatedir=/run >/dev/null 2>&1 || fail "reconfigure back"
make uninstall DESTDIR="$work/d" >/dev/null || fail "make uninstall"
left=$(cd "$work/d" && find . -type f)
[ -z "$left" ] || fail "make uninstall left: $left"
ok "make uninstall removes every file"
