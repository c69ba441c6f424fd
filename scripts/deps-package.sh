#!/bin/sh
# SPDX-License-Identifier: ISC
# Install what building and testing the Debian package needs, on top of
# scripts/deps.sh. Idempotent; needs root. Starts and stops no service.
set -eu
PKGS="debhelper devscripts lintian fakeroot dpkg-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps-package.sh: need root to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends $missing
