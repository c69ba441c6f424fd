#!/bin/sh
# The demo on a fresh Debian 12 machine (as root): dependencies, a build,
# then a throwaway Prosody + floodgated, a scripted bot wave and a human
# from a real XMPP client, and what floodgate decided.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh scripts/deps.sh
sh scripts/build.sh
top_builddir="$top/build" exec /usr/bin/python3 contrib/demo/demo.py
