#!/usr/bin/env bash
# test-security-known-bugs.sh: the bugs issue 7 found (tests/fuzz/known-bugs),
# each checked without tolerance: by replaying its fuzz input through its
# fuzz target, or by a check here on the directory store (no S3 server
# needed).  A bug marked "fixed" must stay fixed; one marked "open" must
# still be there (when it is gone, mark it fixed in the list).  So this
# test fails on a regression and on a list out of date, not on an open bug
# (an open bug has its own report and its own XFAIL, if any).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh
make_tmpdir
fuzzdir="${abs_top_builddir:-..}/tests/fuzz"
list="${srcdir:-.}/fuzz/known-bugs"
present=0
fixed=0
checked=0
wrong=()

# ---- Checks that are not fuzz inputs ---------------------------------------

store ()
{
  rm -rf "$tmpdir/store"
  mkdir -p "$tmpdir/store/b"
  echo "bucket=b endpoint=file://$tmpdir/store"
}

# A disk named v1..2: refused as a name, or created, written, flushed and
# then opened again.
# shellcheck disable=SC2016 # $uri is for nbdkit --run to expand
check_disk_with_dotdot_name ()
{
  # shellcheck disable=SC2046 # store prints the parameters
  if ! nbdkit -U - "$S3COW_PLUGIN" $(store) export=v1..2 size=1M \
    chunk-size=64K cache-size=4M --run 'nbdsh -u "$uri" \
    -c "h.pwrite(b\"x\" * 512, 0)" -c "h.flush()"' >"$tmpdir/log" 2>&1; then
    grep -q 'invalid disk name' "$tmpdir/log" # refused: fixed that way
    return
  fi
  # shellcheck disable=SC2046
  nbdkit -U - "$S3COW_PLUGIN" bucket=b endpoint="file://$tmpdir/store" \
    export=v1..2 --run 'nbdsh -u "$uri" -c "assert h.pread(1, 0) == b\"x\""' \
    >>"$tmpdir/log" 2>&1
}

# nan, inf, 1e300 must be refused for every duration parameter.
check_nonfinite_parameters ()
{
  local p v
  for p in lease commit-interval timeout retry-time lease-wait; do
    for v in nan inf 1e300; do
      [ "$p" = lease ] && [ "$v" != nan ] && continue # range-checked
      # shellcheck disable=SC2046
      if nbdkit -U - "$S3COW_PLUGIN" $(store) "$p=$v" --run true \
        >"$tmpdir/log" 2>&1; then
        echo "$p=$v is accepted"
        return 1
      fi
    done
  done
}

# An export name with a newline and an ESC must not reach the log raw.
check_export_name_in_log ()
{
  local sock="$tmpdir/sock"
  # shellcheck disable=SC2046
  start_nbdkit "$sock" $(store) 2>"$tmpdir/log"
  nbdsh -n -c "
h = nbd.NBD()
h.set_export_name('x\nnbdkit: error: FORGED LINE\x1b[2J')
try:
    h.connect_unix('$sock')
except nbd.Error:
    pass
" || true
  stop_nbdkit || true
  ! grep -q '^nbdkit: error: FORGED LINE' "$tmpdir/log" &&
    ! grep -q $'\x1b' "$tmpdir/log"
}

# ... nor through "this server serves only disk d, not NAME".
check_export_name_in_log_export ()
{
  local sock="$tmpdir/sock"
  # shellcheck disable=SC2046
  start_nbdkit "$sock" $(store) export=d size=1M chunk-size=64K \
    cache-size=4M 2>"$tmpdir/log"
  nbdsh -n -c "
h = nbd.NBD()
h.set_export_name('x\nnbdkit: error: FORGED LINE\x1b[2J')
try:
    h.connect_unix('$sock')
except nbd.Error:
    pass
" || true
  stop_nbdkit || true
  grep -q 'serves only disk' "$tmpdir/log" || return 1 # not even refused?
  ! grep -q '^nbdkit: error: FORGED LINE' "$tmpdir/log" &&
    ! grep -q $'\x1b' "$tmpdir/log"
}

# s3cow ls and info must not print a stored parent's control bytes raw.
# 2: not checked (no s3cow command).
check_cli_shows_parent_raw ()
{
  command -v s3cow >/dev/null 2>&1 || return 2
  rm -rf "$tmpdir/store"
  mkdir -p "$tmpdir/store/b/disks/evil"
  /usr/bin/python3 - "${srcdir:-.}/fuzz/regress-head/parent-escape" \
    "$tmpdir/store/b/disks/evil/head" <<'PYEOF'
import hashlib, sys
data = open(sys.argv[1], "rb").read()
etag = hashlib.sha256(data).hexdigest()[:32]     # the directory store's
head = ("S3COWDIR1 " + etag).ljust(63).encode() + b"\n"
open(sys.argv[2], "wb").write(head + data)
PYEOF
  s3cow --endpoint "file://$tmpdir/store" --bucket b ls >"$tmpdir/log" 2>&1
  s3cow --endpoint "file://$tmpdir/store" --bucket b info evil \
    >>"$tmpdir/log" 2>&1 || true
  grep -q evil "$tmpdir/log" || return 2 # the command did not list it
  ! grep -q $'\x1b' "$tmpdir/log" && ! grep -q '^.\[31mFORGED' "$tmpdir/log"
}

# ---- The list ------------------------------------------------------------------

# result NAME STATUS WHAT FIXED(0/1) DETAIL
result ()
{
  local name="$1" status="$2" what="$3" is_fixed="$4" detail="${5:-}"
  checked=$((checked + 1))
  if [ "$is_fixed" = 1 ]; then
    fixed=$((fixed + 1))
    echo "$0: $name ($what): fixed"
    [ "$status" = fixed ] ||
      wrong+=("$name ($what) is fixed: mark it fixed in tests/fuzz/known-bugs")
  else
    present=$((present + 1))
    echo "$0: $name ($what): still there${detail:+: $detail}"
    [ "$status" = open ] || wrong+=("$name ($what) is BACK: $detail")
  fi
}

while read -r name status target input; do
  case "$name" in '' | '#'*) continue ;; esac
  case "$status" in
    open | fixed) ;;
    *) fail "tests/fuzz/known-bugs: $name: status \"$status\"" ;;
  esac
  if [ "$target" = - ]; then
    fn="check_${input//-/_}"
    r=0
    "$fn" || r=$?
    case "$r" in
      0) result "$name" "$status" "$input" 1 ;;
      2) echo "$0: $name ($input): not checked (needs the s3cow command)" ;;
      *) result "$name" "$status" "$input" 0 "$(tail -n 3 "$tmpdir/log")" ;;
    esac
    continue
  fi
  prog="$fuzzdir/fuzz-$target"
  if [ ! -x "$prog" ]; then
    echo "$0: $name ($target $input): fuzz targets not built, not checked"
    continue
  fi
  if S3COW_FUZZ_TOLERATE='' "$prog" "${srcdir:-.}/fuzz/$input" \
    >"$tmpdir/fuzz.log" 2>&1; then
    result "$name" "$status" "$target $input" 1
  else
    result "$name" "$status" "$target $input" 0 \
      "$(grep -m1 'invariant failed\|ERROR' "$tmpdir/fuzz.log" || true)"
  fi
done <"$list"

echo "$0: $checked checked: $present still there, $fixed fixed"
[ "$checked" -gt 0 ] || exit 77
[ ${#wrong[@]} -eq 0 ] || fail "$(printf '%s; ' "${wrong[@]}")"
echo "$0: OK"
