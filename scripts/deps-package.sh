#!/bin/sh
# SPDX-License-Identifier: ISC
# Install what building and testing the Debian package needs, on top of
# what scripts/deps.sh installs (it does both). Idempotent; needs root
# only when something is missing. Starts and stops no service.
set -eu
exec sh "$(dirname "$0")/deps.sh" --package
