#!/bin/sh
# SPDX-License-Identifier: ISC
# The demo on a Debian 12 machine (as root for the first run, which
# installs packages): dependencies, a build, then a throwaway Prosody +
# floodgated on 127.0.0.1 and free ports, a scripted bot wave and a human
# from a real XMPP client, and what floodgate decided. It starts and stops
# no system service and leaves a running Prosody or ejabberd alone.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh
sh scripts/build.sh
top_builddir="$top/build" exec /usr/bin/python3 contrib/demo/demo.py
