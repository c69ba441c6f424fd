#!/bin/sh
# SPDX-License-Identifier: ISC
# Configure and build floodgate in ./build; --sanitize adds ASan+UBSan.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
flags=""
[ "${1:-}" = "--sanitize" ] && flags="--enable-sanitizers"
if [ ! -x configure ] || [ configure.ac -nt configure ] ||
    [ Makefile.am -nt configure ]; then
	autoreconf -fi
fi
mkdir -p build
cd build
if [ ! -f Makefile ] || [ "$(cat .fgflags 2>/dev/null)" != "$flags" ]; then
	# objects built with other flags (sanitizers or not) must not mix
	[ -f Makefile ] && make clean >/dev/null
	../configure $flags
	echo "$flags" >.fgflags
fi
make -j"$(nproc)"
