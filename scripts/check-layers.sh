#!/bin/sh
# SPDX-License-Identifier: ISC
#
# The layering rule of doc/design.md, checked on every `make check`:
#   1. a source file includes headers only from its own layer or below;
#   2. no two object files call each other (a circle), judged from the
#      functions each object defines and the symbols it uses (nm), when a
#      build tree is given through top_builddir. Data references (a
#      detector table naming its detectors) are not calls.
# Output is TAP, so automake's driver counts each rule.
set -eu
src=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
obj=${top_builddir:-}

# Layer of a top folder; a higher layer may include a lower one.
rank() {
	case "$1" in
	core) echo 1 ;;
	storage) echo 2 ;;
	policy) echo 3 ;;
	admin) echo 4 ;;
	component) echo 5 ;;
	daemon | tools) echo 6 ;;
	*) echo 0 ;;
	esac
}

echo "1..2"
bad=0
for dir in core storage policy admin component daemon tools; do
	[ -d "$src/$dir" ] || continue
	own=$(rank "$dir")
	for f in "$src/$dir"/*.c "$src/$dir"/*.h; do
		[ -f "$f" ] || continue
		for inc in $(sed -n 's/^#include "\.\.\/\([a-z]*\)\/.*"/\1/p' "$f"); do
			if [ "$(rank "$inc")" -gt "$own" ] ||
			    [ "$(rank "$inc")" -eq 0 ]; then
				echo "# $dir/${f##*/} includes from $inc/ (above $dir/)"
				bad=1
			fi
		done
	done
done
if [ "$bad" -eq 0 ]; then
	echo "ok 1 - no include from a lower layer to a higher one"
else
	echo "not ok 1 - no include from a lower layer to a higher one"
fi

if [ -z "$obj" ] || ! command -v nm >/dev/null 2>&1; then
	echo "ok 2 # SKIP no build tree or no nm"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# "object symbol" pairs: what each object defines, and what it uses
for o in "$obj"/core/*.o "$obj"/storage/*.o "$obj"/policy/*.o \
    "$obj"/admin/*.o "$obj"/component/*.o "$obj"/daemon/*.o \
    "$obj"/tools/*.o; do
	[ -f "$o" ] || continue
	n=${o#"$obj"/}
	nm --defined-only -g "$o" | awk -v o="$n" '$2 == "T" { print $3, o }'
	nm -u "$o" | awk -v o="$n" '{ print $NF, o }' >>"$tmp/uses"
done | sort >"$tmp/defs"
sort -o "$tmp/uses" "$tmp/uses"
# caller callee, once per pair
join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 { print $2, $3 }' |
	sort -u >"$tmp/edges"
awk '{ print $2, $1 }' "$tmp/edges" | sort >"$tmp/back"
if comm -12 "$tmp/edges" "$tmp/back" >"$tmp/circles" &&
    [ -s "$tmp/circles" ]; then
	awk '$1 < $2 { print "# circle:", $1, "<->", $2 }' "$tmp/circles"
	echo "not ok 2 - no two object files call each other"
else
	echo "ok 2 - no two object files call each other"
fi
