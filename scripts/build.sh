#!/bin/bash
# Install what s3cow needs to build and test (Debian 12, only the packages
# missing), then build it out of tree in build/.  Used by scripts/test.sh
# and scripts/serve.sh; run it alone to just build.
#
#   scripts/build.sh           # CONFIGURE_ARGS adds configure options
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
build="$root/build"
jobs="$(nproc 2>/dev/null || echo 2)"

say ()
{
  echo "==> $*"
}

# Real package names only: a virtual one (nbdfuse, which libnbd-bin
# provides on Debian 12) never shows as installed, and would cost an
# apt-get update on every run.
packages=(
  build-essential autoconf automake libtool pkg-config
  nbdkit nbdkit-plugin-dev libcurl4-openssl-dev libssl-dev libexpat1-dev
  libnbd-dev libnbd-bin python3-libnbd fuse3 qemu-utils e2fsprogs
  curl openssl lcov cppcheck clang-format clang-tidy valgrind
  clang libclang-rt-14-dev llvm
  libjson-c-dev libzstd-dev liblz4-dev
)
# clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes) build
# the fuzz targets of tests/fuzz/; llvm gives llvm-symbolizer for their
# reports.  valgrind and gcc's own ASan/UBSan/TSan runtimes (libasan8,
# libubsan1, libtsan2, which build-essential brings) serve
# scripts/sanitize.sh; openssl makes the test CA of the HTTPS test.
lib_install "${packages[@]}"

cd "$root"
say "autoreconf -i"
autoreconf -i >/dev/null

# --enable-fuzzing: the fuzz targets must build (make check runs them),
# rather than their test being skipped.
say "configure --enable-werror --enable-fuzzing ${CONFIGURE_ARGS:-} (in build/)"
mkdir -p "$build"
cd "$build"
# shellcheck disable=SC2086 # CONFIGURE_ARGS is a list of arguments
"$root/configure" --enable-werror --enable-fuzzing ${CONFIGURE_ARGS:-} \
  >configure.out || {
  tail -n 30 configure.out >&2
  exit 1
}

say "make -j$jobs"
make -j"$jobs" >/dev/null
