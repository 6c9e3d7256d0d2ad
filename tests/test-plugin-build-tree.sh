#!/usr/bin/env bash
# test-plugin-build-tree.sh: `nbdkit ./s3cow.so ...` works from the top of
# the build tree, without make install: the build leaves s3cow.so there,
# and a server started with it creates and serves a disk.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdinfo
use_store dir

[ -e "$abs_top_builddir/s3cow.so" ] ||
  fail "no s3cow.so at the top of the build tree ($abs_top_builddir)"
size="$(cd "$abs_top_builddir" &&
  nbdkit -U - ./s3cow.so "${store[@]}" export=d size=1M \
    --run 'nbdinfo --size "$uri"')" ||
  fail "nbdkit ./s3cow.so failed: see above"
[ "$size" = 1048576 ] || fail "size $size, expected 1048576"
