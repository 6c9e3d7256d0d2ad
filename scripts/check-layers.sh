#!/bin/bash
# Check that no file of plugin/ or cli/ includes a header from a layer
# above its own, as scripts/layers.txt orders them (make lint runs this).
#
#   scripts/check-layers.sh [SRCDIR]
#
# A quoted include ("x.h") is looked up beside the file, then in plugin/.
# Fails, naming each offence, on an include that goes up and on a file
# that layers.txt does not place.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${1:-$here/..}"
cd "$src"
shopt -s nullglob

declare -A level layer
n=0
while read -r name pats; do
  case "$name" in '' | '#'*) continue ;; esac
  n=$((n + 1))
  # shellcheck disable=SC2086 # the globs of the line
  for f in $pats; do
    if [ -n "${level[$f]:-}" ]; then
      echo "check-layers: $f is in two layers of scripts/layers.txt" >&2
      exit 1
    fi
    level[$f]=$n
    layer[$f]=$name
  done
done <"$here/layers.txt"

bad=0
for f in plugin/*.[ch] cli/*.[ch]; do
  if [ -z "${level[$f]:-}" ]; then
    echo "check-layers: $f is in no layer: add it to scripts/layers.txt" >&2
    bad=1
    continue
  fi
  d="${f%/*}"
  while read -r h; do
    if [ -f "$d/$h" ]; then
      h="$d/$h"
    elif [ -f "plugin/$h" ]; then
      h="plugin/$h"
    else
      continue # not ours (config.h is generated)
    fi
    [ -n "${level[$h]:-}" ] || continue # reported as a file of its own
    if [ "${level[$h]}" -lt "${level[$f]}" ]; then
      echo "check-layers: $f (layer ${layer[$f]}) includes $h" \
        "(layer ${layer[$h]}, above it)" >&2
      bad=1
    fi
  done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done
exit "$bad"
