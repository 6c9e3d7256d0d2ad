#!/usr/bin/env bash
# Bad inputs to s3cow give a clear message and a non-zero exit (2 for bad
# usage, found before any request; 1 for failures): a missing disk (fork,
# info, ls, rm, unlock, snapshot), an existing target (create, fork), a bad
# size, a bad chunk size, a bad name, an unreachable endpoint (within the
# --retry-time given), a missing bucket, no bucket at all, an option on the
# wrong command, a secret on the command line, a held lease (rm, unlock
# without --force).  --help works everywhere, --version prints the version.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow
use_store s3

# expect STATUS PATTERN CMD...: CMD exits with STATUS and says PATTERN.
expect ()
{
  local want="$1" pattern="$2" status=0
  shift 2
  "$@" >"$tmpdir/out" 2>"$tmpdir/err" || status=$?
  if [ "$status" != "$want" ]; then
    cat "$tmpdir/out" "$tmpdir/err"
    fail "'$*' exited with $status, expected $want"
  fi
  grep -q -e "$pattern" "$tmpdir/err" || {
    cat "$tmpdir/err"
    fail "'$*': the message does not say '$pattern'"
  }
}

s3cow create d 1M
expect 2 "Usage: s3cow" s3cow
expect 2 "unknown command 'bogus'" s3cow bogus
expect 2 "wrong number of operands" s3cow fork d
expect 2 "wrong number of operands" s3cow create d 1M extra

# Missing disks and existing targets.
expect 1 "disk nope does not exist" s3cow fork nope x
expect 1 "snapshot d@nope does not exist" s3cow fork d@nope x
expect 1 "disk nope does not exist" s3cow info nope
expect 1 "disk nope does not exist" s3cow ls nope
expect 1 "disk nope does not exist" s3cow rm nope
expect 1 "disk nope does not exist" s3cow unlock nope --force
expect 1 "disk nope does not exist" s3cow snapshot nope s
expect 1 "disk d already exists" s3cow create d 2M
s3cow create e 1M
expect 1 "disk e already exists" s3cow fork d e
expect 1 "disk d already exists" s3cow fork e d

# Sizes and names.
expect 2 "multiple of 512" s3cow create x 1000
expect 2 "multiple of 512" s3cow create x 0
expect 2 "at most 1P" s3cow create x 2P
expect 2 "'12Q' is not a size" s3cow create x 12Q
expect 2 "'-5' is not a size" s3cow create x -- -5
expect 2 "power of two from 64K to 64M" s3cow create x 1M --chunk-size 96K
expect 2 "power of two from 64K to 64M" s3cow create x 1M --chunk-size 128M
expect 2 "invalid disk name 'a/b'" s3cow create a/b 1M
expect 2 "invalid disk name '.x'" s3cow create .x 1M
expect 2 "disk name too long" s3cow create "$(printf 'n%.0s' {1..97})" 1M
expect 2 "a snapshot is not allowed here" s3cow fork d x@y
expect 2 "invalid snapshot name" s3cow snapshot d ../x
expect 2 "is not a duration" s3cow gc --grace 5x
expect 2 "does not take --dry-run" s3cow create x 1M --dry-run
expect 2 "does not take --force" s3cow fork d x --force
expect 2 "needs --secret-key-file" s3cow --access-key AK ls
expect 2 "a secret is never given on the command line" s3cow ls --secret-key abc

# Connection problems.
start=$(date +%s)
expect 1 "127.0.0.1 port 1" s3cow --endpoint http://127.0.0.1:1 \
  --retry-time 2 ls
[ $(($(date +%s) - start)) -lt 15 ] || fail "an unreachable endpoint took too long"
expect 1 "LIST s3://$bucket/: Failed to connect" s3cow \
  --endpoint http://127.0.0.1:1 --retry-time 1 fork d x
expect 1 "NoSuchBucket" s3cow --bucket "$bucket-none" ls
expect 1 "no bucket" env -u S3COW_BUCKET s3cow ls
printf 'wrong' >"$tmpdir/wrong"
expect 1 "SignatureDoesNotMatch\|InvalidAccessKeyId\|AccessDenied" \
  s3cow --access-key "$S3COW_TEST_ACCESS_KEY" --secret-key-file "$tmpdir/wrong" ls
s3cow --access-key "$S3COW_TEST_ACCESS_KEY" --secret-key-file "$tmpdir/secret" \
  ls >/dev/null || fail "--access-key with --secret-key-file does not work"

# A held lease: rm and unlock refuse without --force.
printf 's3cow-lease 1\nstate=held\nhost=elsewhere\npid=4242\n' >"$tmpdir/lease"
obj_put disks/d/lease "$tmpdir/lease"
expect 1 "disk d is in use.*" s3cow rm d
grep -q "host=elsewhere" "$tmpdir/err" || fail "rm does not show the lease"
expect 1 "refusing to break the lease of disk d without --force" \
  s3cow unlock d
s3cow unlock d --force >"$tmpdir/out"
s3cow info d | grep -q "^lease: *none$" || fail "unlock --force left the lease"
s3cow unlock d | grep -q "has no lease" || fail "unlock of an unlocked disk"
# A lease that cannot be read (oversized: the plugin cannot open d, and
# docs/errors.md says to break it with unlock --force): unlock refuses
# without --force, saying so; --force breaks it, and so does rm --force.
head -c 70000 /dev/zero | tr '\0' x >"$tmpdir/biglease"
obj_put disks/d/lease "$tmpdir/biglease"
expect 1 "cannot read the lease of disk d: --force breaks it" s3cow unlock d
grep -q "object larger than" "$tmpdir/err" || fail "unlock does not say why"
s3cow unlock d --force >"$tmpdir/out" ||
  fail "unlock --force of an unreadable lease: $(cat "$tmpdir/out")"
grep -q "lease (unreadable) broken" "$tmpdir/out" ||
  fail "unlock --force said: $(cat "$tmpdir/out")"
s3cow info d | grep -q "^lease: *none$" || fail "unlock --force left the lease"
obj_put disks/d/lease "$tmpdir/biglease"
expect 1 "cannot read the lease of disk d" s3cow rm d
s3cow rm --force d
s3cow ls | grep -q "^d " && fail "rm --force d left d"
[ -z "$(obj_list disks/d/)" ] || fail "rm --force d left objects under disks/d/"

# Help and version.
s3cow --version | grep -q "^s3cow [0-9]" || fail "--version"
s3cow --help | grep -q "s3cow fork SOURCE" || fail "--help does not list fork"
for c in create fork snapshot ls info rm gc fsck unlock; do
  s3cow "$c" --help | grep -q "^Usage: s3cow $c" || fail "s3cow $c --help"
  s3cow help "$c" | grep -q "^Usage: s3cow $c" || fail "s3cow help $c"
done
echo "$0: PASS"
