#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs one integration test script under Debian's python3 (which has
# slixmpp). FG_SKIP_INTEGRATION=1 skips them (exit 77), e.g. inside
# make distcheck once the same tests already ran on the real tree.
if [ -n "${FG_SKIP_INTEGRATION:-}" ]; then
	echo "integration tests skipped (FG_SKIP_INTEGRATION set)"
	exit 77
fi
exec "${PYTHON3:-/usr/bin/python3}" "$@"
