#!/bin/sh
# SPDX-License-Identifier: ISC
# Install what floodgate needs to build and to run its tests and demo on a
# Debian 12 machine. Idempotent; needs root only when something is
# missing. It never starts or stops a service: packages that come with
# one (prosody, ejabberd) are installed with a policy-rc.d that forbids
# starting it, and a server already running is left alone (the tests and
# the demo run their own throwaway servers on 127.0.0.1 and free ports).
# With --package it also installs the Debian packaging tools.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
  libstrophe-dev libevent-dev libsqlite3-dev libssl-dev libinih-dev
  zlib1g-dev libexpat1-dev libsystemd-dev libpsl-dev publicsuffix check
  sqlite3
  libpq-dev postgresql
  prosody prosody-modules lua-unbound lua5.4
  ejabberd erlang-dev erlang-base
  python3 python3-slixmpp curl procps psmisc util-linux"
# --package: also what building and testing the Debian package needs
[ "${1:-}" = "--package" ] &&
	PKGS="$PKGS debhelper devscripts lintian fakeroot dpkg-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# invoke-rc.d asks policy-rc.d; 101 = "action forbidden". An operator's
# own policy-rc.d is put back afterwards.
rc=/usr/sbin/policy-rc.d
saved=""
if [ -e "$rc" ]; then
	saved="$rc.floodgate-saved"
	mv "$rc" "$saved"
fi
restore() {
	rm -f "$rc"
	[ -z "$saved" ] || mv "$saved" "$rc"
}
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' >"$rc"
chmod +x "$rc"
apt-get install -y -q --no-install-recommends $missing
