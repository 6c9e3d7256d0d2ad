#!/usr/bin/env bash
# test-cli-info-lease-json.sh: s3cow info --json gives the lease of a disk
# a server holds as fields (host, pid, instance, export, taken, renewed,
# expires in ISO 8601 UTC, duration) beside its text.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh s3cow /usr/bin/python3
use_store
s3cow create d 1M
serve export=d lease=30s
nbd_py 'w("d", 0, pattern("d0", 4096))'
s3cow info d --json >"$tmpdir/info.json"
/usr/bin/python3 -c '
import json, re, sys
lease = json.load(open(sys.argv[1]))["lease"]
iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
want_pid = int(sys.argv[2])
if not lease or lease["held"] is not True:
    sys.exit("lease %r, expected a held lease" % lease)
if lease.get("pid") != want_pid or lease.get("export") != "d":
    sys.exit("pid %r export %r, expected %d and d"
             % (lease.get("pid"), lease.get("export"), want_pid))
if not lease.get("host") or lease.get("duration_seconds") != 30:
    sys.exit("host %r duration %r, expected a host and 30"
             % (lease.get("host"), lease.get("duration_seconds")))
for k in ("taken", "renewed", "expires"):
    if not iso.match(lease.get(k, "")):
        sys.exit("%s %r, expected ISO 8601 UTC" % (k, lease.get(k)))
' "$tmpdir/info.json" "$nbdkit_pid" || {
  cat "$tmpdir/info.json"
  fail "info --json: the lease fields are wrong: see above"
}
stop_nbdkit || fail "nbdkit exited with status $?"
