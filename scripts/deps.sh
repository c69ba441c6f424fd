#!/bin/sh
# Install what floodgate needs to build and to run its tests and demo on a
# fresh Debian 12 machine. Idempotent; needs root.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
  libstrophe-dev libevent-dev libsqlite3-dev libssl-dev libinih-dev
  zlib1g-dev check sqlite3
  prosody prosody-modules lua-unbound lua5.4
  ejabberd erlang-dev erlang-base
  python3 python3-slixmpp curl procps psmisc"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps.sh: need root to install:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# the packages must not start system-wide servers on shared ports
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get install -y -q --no-install-recommends $missing
	rm -f /usr/sbin/policy-rc.d
fi
# Debian starts these on install where it can; tests run their own.
for svc in prosody ejabberd; do
	if command -v systemctl >/dev/null 2>&1 &&
	    systemctl is-active --quiet "$svc" 2>/dev/null; then
		systemctl stop "$svc" || true
	fi
done
