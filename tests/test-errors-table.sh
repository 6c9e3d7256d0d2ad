#!/usr/bin/env bash
# docs/errors.md lists every bad parameter, every refusal for want of the
# encryption key, and every malformed stored object with the exact message
# a user sees.  This test provokes each row (function case_ID below, one
# per row ID) and checks that the row's message, placeholders filled in,
# is in what the user saw (nbdkit's stderr, or the s3cow command's
# output): the table and the code cannot drift apart.  Every row must
# have a case and every case a row.  No case may crash the server (exit
# status from a signal) or make it serve a disk with a bad head or map.
# Oversized objects are refused by their size before they are read (no
# large allocation: the "larger than" rows).
# The fixture is on the directory store, and again on the S3 test server
# for the rows about S3's answers (the keys, and the sizes, which the S3
# store checks before it reads a body: their messages name s3:// URLs).
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires /usr/bin/python3 timeout
requires nbdkit nbdsh s3cow radosgw-admin
requires_s3
[ -n "${S3COW_TEST_RGW_CONF:-}" ] || {
  echo "$0: SKIP: S3COW_TEST_RGW_CONF is not set (a second RGW user)"
  exit 77
}
so=${S3COW_CLOCKSHIFT_SO:-$(dirname "$S3COW_PLUGIN")/../../tests/.libs/libclockshift.so}
[ -f "$so" ] || fail "$so is missing (make check builds it)"
make_tmpdir
table="${abs_top_srcdir:-$srcdir/..}/docs/errors.md"
[ -r "$table" ] || fail "cannot read $table"
ep="$S3COW_TEST_ENDPOINT"
printf '%s' "not-the-secret-key" >"$tmpdir/wrong"
# Encryption keys: the fixture's (bytes 00 01 .. 1f), another (all 11).
/usr/bin/python3 -c 'print(bytes(range(32)).hex())' >"$tmpdir/key"
/usr/bin/python3 -c 'print((b"\x11" * 32).hex())' >"$tmpdir/otherkey"
echo 0123 >"$tmpdir/shortkey"
printf '%s' "$S3COW_TEST_SECRET_KEY" >"$tmpdir/secret"

# ---- the fixture: disk d with two maps (two commits) and two chunks ----
# fixture STORE: make it on STORE (dir or s3) and save what on_store needs
# to come back to it.
fixture ()
{
  use_store "$1"
  s3cow create d 1M --chunk-size 64K
  s3cow create ed 1M --chunk-size 64K --encryption-key-file "$tmpdir/key"
  s3cow create ee 1M --chunk-size 64K --encryption-key-file "$tmpdir/key"
  # A commit of no data: ed keeps two heads, its creation's and this one.
  s3cow history ed 2d --encryption-key-file "$tmpdir/key" >/dev/null
  attime=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  kept=$(obj_list disks/ed/history/ | awk '{
    n = split($1, p, "/"); g = substr(p[n], 1, index(p[n], "-") - 1) + 0
    if (g >= max) { max = g; k = $1 } } END { print k }')
  [ -n "$kept" ] || fail "the fixture has no kept head of ed"
  serve
  nbd_py '
CS = 65536
w("d", 0, pattern("x0", CS))
w("d", CS, pattern("x1", CS))
'
  stop_nbdkit || fail "nbdkit exited with status $?"
  map1=$(obj_list disks/d/maps/ | awk 'NR == 1 { print $1 }')
  map2=$(obj_list disks/d/maps/ | awk 'NR == 2 { print $1 }')
  [ -n "$map2" ] || fail "the fixture has no second map"
  {
    declare -p store_kind bucket store map1 map2 attime kept |
      sed 's/^declare /declare -g /'
    export -p | grep -E ' (S3COW_ENDPOINT|S3COW_BUCKET|AWS_[A-Z_]*)='
  } >"$tmpdir/$1.vars"
}
# on_store STORE: the fixture on STORE is the one the cases see.
on_store ()
{
  unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
  # shellcheck disable=SC1090 # written by fixture
  source "$tmpdir/$1.vars"
}
fixture s3
fixture dir
hash0=$(S3COW_TEST_SOCK= /usr/bin/python3 -c "$_s3cow_py_prelude
print(hashlib.sha256(pattern('x0', 65536)).hexdigest())")
chunk0="chunks/$hash0"

# refused PLUGIN-ARG...: nbdkit must refuse to start.
refused ()
{
  local status=0
  timeout 90 nbdkit -U - "$S3COW_PLUGIN" "$@" --run 'echo SERVING' || status=$?
  [ "$status" != 0 ] || echo "UNEXPECTED: the server started"
  [ "$status" -lt 128 ] || echo "UNEXPECTED: exit status $status"
}

# serve_d: serve d and read chunks 0 and 1; then s3cow fsck d.  (Python
# with the nbd module, not nbdsh, which takes twice as long to start.)
serve_d ()
{
  local status=0
  # shellcheck disable=SC2016 # $uri is for nbdkit --run
  timeout 90 nbdkit -U - "$S3COW_PLUGIN" "${store[@]}" export=d \
    retry-time=2 lease=3 --run '/usr/bin/python3 -c "
import nbd, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
try:
    h.pread(65536, 0)
    print(\"READ chunk 0\")
except nbd.Error as e:
    print(\"chunk 0: %s\" % e)
h.pread(65536, 65536)
print(\"READ chunk 1\")
" "$uri"' || status=$?
  [ "$status" -lt 128 ] || echo "UNEXPECTED: nbdkit exit status $status"
  s3cow fsck d || true
}

# cli_refused COMMAND...: an s3cow command must fail (exit 1).
cli_refused ()
{
  local status=0
  timeout 90 "$@" </dev/null || status=$?
  [ "$status" = 1 ] || echo "UNEXPECTED: exit status $status"
}

# A case's own scratch files (orig, bad) are in $work.
work="$tmpdir"

# damaged KEY MODE: serve_d with KEY damaged (tests/mutate-object.py MODE),
# then put KEY back.
damaged ()
{
  obj_get "$1" "$work/orig"
  /usr/bin/python3 "$srcdir/mutate-object.py" "$2" "$work/orig" \
    "$work/bad" || fail "mutate-object.py $2"
  obj_put "$1" "$work/bad"
  serve_d
  obj_put "$1" "$work/orig"
}

# missing KEY: serve_d without KEY, then put it back.
missing ()
{
  obj_get "$1" "$work/orig"
  obj_delete "$1"
  serve_d
  obj_put "$1" "$work/orig"
}

# ---- parameters ----
case_no_bucket () { S3COW_BUCKET= refused export=d endpoint="$ep"; }
case_unknown_param () { refused "${store[@]}" export=d colour=blue; }
case_size_unparsable () { refused "${store[@]}" export=d size=lots; }
case_size_unaligned () { refused "${store[@]}" export=d size=1000; }
case_size_zero () { refused "${store[@]}" export=d size=0; }
case_chunk_size () { refused "${store[@]}" export=e size=1M chunk-size=3M; }
case_compression () { refused "${store[@]}" export=d compression=gzip; }
case_compression_level () { refused "${store[@]}" export=d compression=zstd:20; }
case_cache_size_zero () { refused "${store[@]}" export=d cache-size=0; }
case_cache_size_small () {
  refused "${store[@]}" export=e size=1M chunk-size=1M cache-size=16M
}
case_cache_size_disk () { refused "${store[@]}" export=d cache-size=1M; }
case_cache_dir_empty () { refused "${store[@]}" export=d cache-dir=; }
case_cache_dir_size () {
  refused "${store[@]}" export=d cache-dir="$tmpdir/tier" cache-dir-size=1M
}
case_cache_dir_create () {
  refused "${store[@]}" export=d cache-dir="$tmpdir/no/tier"
}
case_cache_dir_file () {
  refused "${store[@]}" export=d cache-dir="$tmpdir/secret"
}
case_cache_dir_unwritable () { refused "${store[@]}" export=d cache-dir=/sys; }
case_endpoint_scheme () {
  refused bucket=b export=d endpoint=ftp://x access-key=a \
    secret-key=+"$tmpdir/secret"
}
case_endpoint_host () {
  refused bucket=b export=d endpoint=http:// access-key=a \
    secret-key=+"$tmpdir/secret"
}
case_endpoint_path () {
  refused bucket=b export=d endpoint=http://127.0.0.1:1/b access-key=a \
    secret-key=+"$tmpdir/secret"
}
case_endpoint_user () {
  refused bucket=b export=d endpoint=http://u:pw@127.0.0.1:1 access-key=a \
    secret-key=+"$tmpdir/secret"
}
case_endpoint_file () { refused bucket=b export=d endpoint=file://rel; }
case_export_name () { refused "${store[@]}" export=../x; }
case_export_long () {
  refused "${store[@]}" export="$(printf 'n%.0s' $(seq 97))"
}
case_snapshot_size () { refused "${store[@]}" export=d@s1 size=1M; }
case_size_no_export () { refused "${store[@]}" size=1M; }
case_new_disk_size_export () {
  refused "${store[@]}" export=d new-disk-size=1M
}
case_export_time () { refused "${store[@]}" export=d@2026-12-07T25:00:00Z; }
case_time_size () {
  refused "${store[@]}" export=d@2026-12-07T15:00:00Z size=1M
}
case_number () { refused "${store[@]}" export=d timeout=abc; }
case_connections () { refused "${store[@]}" export=d connections=0; }
case_upload_threads () { refused "${store[@]}" export=d upload-threads=300; }
case_threads_fixed_max () {
  refused "${store[@]}" export=d upload-threads=8 upload-threads-max=16
}
case_lease () { refused "${store[@]}" export=d lease=1; }
case_gc_grace () {
  refused "${store[@]}" export=d gc-grace=60 retry-time=30 timeout=10
}
case_no_disk () { refused "${store[@]}" export=nodisk; }
case_encryption_key () {
  refused "${store[@]}" export=d encryption-key=+"$tmpdir/shortkey"
}
case_not_encrypted () {
  refused "${store[@]}" export=d encryption-key=+"$tmpdir/key"
}
case_key_missing () { refused "${store[@]}" export=ed; }
case_key_wrong () {
  refused "${store[@]}" export=ed encryption-key=+"$tmpdir/otherkey"
}
# ---- commands and the encryption key ----
case_key_file () {
  local status=0
  s3cow resize ed 2M --encryption-key-file "$tmpdir/shortkey" || status=$?
  [ "$status" = 2 ] || echo "UNEXPECTED: exit status $status"
}
case_resize_key_missing () { cli_refused s3cow resize ed 2M; }
case_resize_key_wrong () {
  cli_refused s3cow resize ed 2M --encryption-key-file "$tmpdir/otherkey"
}
case_history_key_missing () { cli_refused s3cow history ed 3d; }
case_history_key_wrong () {
  cli_refused s3cow history ed 3d --encryption-key-file "$tmpdir/otherkey"
}
case_time_key_missing () { cli_refused s3cow fork "ed@$attime" f; }
case_time_key_wrong () {
  cli_refused s3cow fork "ed@$attime" f --encryption-key-file "$tmpdir/otherkey"
}
case_other_size () { refused "${store[@]}" export=d size=2M; }
case_no_snapshot () { refused "${store[@]}" export=d@nosnap; }
case_time_future () { refused "${store[@]}" export=d@2999-01-01T00:00:00Z; }
case_secret_key () {
  refused bucket="$bucket" endpoint="$ep" \
    access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$tmpdir/wrong" export=d
}
case_access_key () {
  refused bucket="$bucket" endpoint="$ep" access-key=NOSUCHKEY \
    secret-key=+"$tmpdir/secret" export=d
}
case_no_such_bucket () {
  refused bucket=no-such-bucket endpoint="$ep" \
    access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$tmpdir/secret" export=d
}
case_no_bucket_dir () {
  refused bucket=nob endpoint="file://$tmpdir" export=d size=1M
}
case_access_denied () {
  # A user of its own, who may not read the test user's bucket.
  radosgw-admin -c "$S3COW_TEST_RGW_CONF" user create --uid=s3cow-other \
    --display-name=s3cow-other --access-key=s3cowother \
    --secret=s3cowothersecret0123456789 >/dev/null 2>&1 ||
    radosgw-admin -c "$S3COW_TEST_RGW_CONF" key create --uid=s3cow-other \
      --key-type=s3 --access-key=s3cowother \
      --secret=s3cowothersecret0123456789 >/dev/null 2>&1 || true
  printf '%s' s3cowothersecret0123456789 >"$tmpdir/other"
  refused bucket="$bucket" endpoint="$ep" access-key=s3cowother \
    secret-key=+"$tmpdir/other" export=d
}
case_clock_skew () {
  LD_PRELOAD="$so${LD_PRELOAD:+:$LD_PRELOAD}" S3COW_TIMESHIFT=3600 \
    refused bucket="$bucket" endpoint="$ep" \
    access-key="$S3COW_TEST_ACCESS_KEY" secret-key=+"$tmpdir/secret" export=d
}
case_no_credentials () {
  (
    unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_PROFILE
    export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null
    export AWS_SHARED_CREDENTIALS_FILE=/dev/null
    refused bucket="$bucket" endpoint="$ep" export=d
  )
}
case_sse () { refused "${store[@]}" export=d sse=AES128; }
case_sse_kms_key_id () { refused "${store[@]}" export=d sse-kms-key-id=k; }
case_storage_class () { refused "${store[@]}" export=d storage-class=glacier; }
case_storage_class_archive () {
  refused "${store[@]}" export=d storage-class=GLACIER
}
case_unresolvable () {
  # Fails at once, not after retry-time=60.
  local t0=$SECONDS
  refused bucket=b endpoint=http://no-such-host.invalid access-key=a \
    secret-key=+"$tmpdir/secret" retry-time=60 export=d
  [ $((SECONDS - t0)) -lt 20 ] ||
    echo "UNEXPECTED: $((SECONDS - t0)) s to give up on a name that does not resolve"
}
case_unreachable () {
  refused bucket=b endpoint=http://127.0.0.1:1 access-key=a \
    secret-key=+"$tmpdir/secret" retry-time=1 export=d
}

# ---- stored objects ----
case_head_missing () { missing disks/d/head; }
case_head_corrupt () { damaged disks/d/head corrupt; }
case_head_truncated () { damaged disks/d/head truncatehalf; }
case_head_short () { damaged disks/d/head truncate20; }
case_head_foreign () { damaged disks/d/head magic; }
case_head_version () { damaged disks/d/head version; }
case_head_oversized () { damaged disks/d/head oversized; }
case_head_mac () {
  obj_get disks/ed/head "$work/orig"
  obj_put disks/ee/head "$work/orig"
  refused "${store[@]}" export=ee encryption-key=+"$tmpdir/key"
}
case_kept_mac () {
  obj_get "$kept" "$work/orig"
  /usr/bin/python3 "$srcdir/mutate-object.py" mac "$work/orig" "$work/bad" ||
    fail "mutate-object.py mac"
  obj_put "$kept" "$work/bad"
  refused "${store[@]}" export="ed@$attime" encryption-key=+"$tmpdir/key"
  cli_refused s3cow fork "ed@$attime" f --encryption-key-file "$tmpdir/key"
  # Its report only: the row above is the plugin's and fork's message.
  s3cow fsck ed --encryption-key-file "$tmpdir/key" 2>/dev/null || true
  obj_put "$kept" "$work/orig"
}
case_map_missing () { missing "$map1"; }
case_map_corrupt () { damaged "$map1" corrupt; }
case_map_short () { damaged "$map1" truncate20; }
case_map_foreign () { damaged "$map1" magic; }
case_map_version () { damaged "$map1" version; }
case_map_oversized () { damaged "$map1" oversized; }
case_delta_missing () { missing "$map2"; }
case_delta_corrupt () { damaged "$map2" corrupt; }
case_delta_truncated () { damaged "$map2" truncatehalf; }
case_delta_version () { damaged "$map2" version; }
case_delta_oversized () { damaged "$map2" oversized; }
case_lease_corrupt () { damaged disks/d/lease lease-corrupt; }
case_lease_truncated () { damaged disks/d/lease lease-truncate; }
case_lease_foreign () { damaged disks/d/lease magic; }
case_lease_version () { damaged disks/d/lease lease-version; }
case_lease_oversized () { damaged disks/d/lease lease-oversized; }
case_chunk_missing () { missing "$chunk0"; }
case_chunk_truncated () { damaged "$chunk0" truncatehalf; }
case_chunk_altered () { damaged "$chunk0" corrupt; }
case_chunk_oversized () { damaged "$chunk0" chunk-oversized; }

# ---- the table: | `ID` | what | `MESSAGE` | (a message may end early) ----
sed -n 's/^| `\([a-z0-9_]*\)` |.*| `\(.*\)` |$/\1\t\2/p' "$table" \
  >"$tmpdir/rows"
nrows=$(wc -l <"$tmpdir/rows")
[ "$nrows" -ge 40 ] || fail "only $nrows rows read from $table"

# ---- run every case once (however many rows it has) into out.ID ----
# store_of ID: the store case ID runs on.
store_of ()
{
  case "$1" in
    secret_key | access_key | access_denied | clock_skew | no_credentials | \
      sse | sse_kms_key_id | storage_class* | *_oversized) echo s3 ;;
    *) echo dir ;;
  esac
}
# The cases on the directory store run a few at a time, each on its own
# copy of the fixture (they damage objects and take d's lease; the lease
# cases wait for the lease they cannot read to stay unchanged), the longest
# first.  The ones on S3 share its bucket: one after the other, beside
# them.  Then unreachable, alone (its message holds curl's connect time:
# 0 ms, unloaded).
ids=$(cut -f1 "$tmpdir/rows" | awk '!seen[$0]++' |
  awk '{ print (/^lease_/ ? 0 : 1), $0 }' | sort -s -k1,1n | cut -d' ' -f2)
(
  on_store s3
  for id in $ids; do
    if ! declare -F "case_$id" >/dev/null || [ "$(store_of "$id")" != s3 ]; then
      continue
    fi
    "case_$id" >"$tmpdir/out.$id" 2>&1 </dev/null || true
  done
) &
running=1
on_store dir
for id in $ids; do
  if ! declare -F "case_$id" >/dev/null || [ "$(store_of "$id")" != dir ] ||
    [ "$id" = unreachable ]; then
    continue
  fi
  if [ "$running" -ge 4 ]; then
    wait -n || true
    running=$((running - 1))
  fi
  (
    work="$tmpdir/work.$id"
    mkdir "$work"
    cp -a "$tmpdir/store" "$work/store"
    store_root="$work/store"
    store=(bucket="$bucket" endpoint="file://$store_root")
    export S3COW_ENDPOINT="file://$store_root"
    "case_$id" >"$tmpdir/out.$id" 2>&1 </dev/null || true
  ) &
  running=$((running + 1))
done
wait
for id in $ids; do
  if ! declare -F "case_$id" >/dev/null || [ -e "$tmpdir/out.$id" ]; then
    continue
  fi
  on_store "$(store_of "$id")"
  "case_$id" >"$tmpdir/out.$id" 2>&1 </dev/null || true
done

# shown_key ID: an access key id as messages show it (never whole).
shown_key ()
{
  local n=${#1}
  if [ "$n" -ge 16 ]; then
    echo "${1:0:4}...${1: -4}"
  elif [ "$n" -gt 4 ]; then
    echo "...${1: -4}"
  else
    echo "..."
  fi
}
failures=()
declare -A seen=()
while IFS=$'\t' read -r id message; do
  seen[$id]=1
  if ! declare -F "case_$id" >/dev/null; then
    failures+=("row $id: no case_$id in this test")
    continue
  fi
  on_store "$(store_of "$id")"
  cp "$tmpdir/out.$id" "$tmpdir/out"
  want="${message//<bucket>/$bucket}"
  want="${want//<endpoint>/$ep}"
  want="${want//<dir>/$tmpdir}"
  want="${want//<map1>/$map1}"
  want="${want//<map2>/$map2}"
  want="${want//<hash>/$hash0}"
  want="${want//<time>/$attime}"
  want="${want//<kept>/$kept}"
  want="${want//<key>/$(shown_key "$S3COW_TEST_ACCESS_KEY")}"
  if ! grep -qF -- "$want" "$tmpdir/out"; then
    failures+=("row $id: the output does not hold \"$want\"; it is:
$(cat "$tmpdir/out")")
  elif grep -q "UNEXPECTED\|^READ chunk 0" "$tmpdir/out" &&
    [ "${id#chunk_}" = "$id" ] && [ "${id#lease_}" = "$id" ]; then
    failures+=("row $id: $(grep "UNEXPECTED\|^READ" "$tmpdir/out")")
  elif grep -q "UNEXPECTED" "$tmpdir/out"; then
    failures+=("row $id: $(grep "UNEXPECTED" "$tmpdir/out")")
  else
    echo "ok $id: $want"
  fi
done <"$tmpdir/rows"
for f in $(declare -F | awk '$3 ~ /^case_/ { print substr($3, 6) }'); do
  [ -n "${seen[$f]:-}" ] || failures+=("case_$f has no row in $table")
done
if [ ${#failures[@]} -gt 0 ]; then
  printf -- '--- %s\n' "${failures[@]}" >&2
  fail "${#failures[@]} row(s) failed (above)"
fi
echo "$0: PASS ($nrows rows)"
