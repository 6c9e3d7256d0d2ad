#!/bin/bash
# Start a throw-away, single-node Ceph RADOS Gateway (S3) on 127.0.0.1 for
# the tests: one monitor, one OSD keeping its data in RAM (memstore), and
# radosgw.  No systemd: the daemons run directly, in the background, with
# a generated ceph.conf; every file they use lives in one state directory.
#
#   scripts/rgw-start.sh          # installs Ceph if needed, starts, prints
#   . "$S3COW_RGW_DIR/env"        # S3COW_TEST_ENDPOINT, _ACCESS_KEY, ...
#   scripts/rgw-stop.sh           # stops it and removes the state directory
#
# Environment (all optional):
#   S3COW_RGW_DIR        state directory        (default /tmp/s3cow-rgw)
#   S3COW_RGW_PORT       S3 port on 127.0.0.1   (default 7480)
#   S3COW_RGW_MON_PORT   monitor port           (default S3 port + 10000)
#   S3COW_RGW_TLS_PORT   also serve HTTPS on this port (default: none), with
#                        a certificate (SAN 127.0.0.1, localhost) of a test
#                        CA made here; the env file then also sets
#                        S3COW_TEST_TLS_ENDPOINT and S3COW_TEST_CA_FILE
#   RGW_MEMSTORE_BYTES   RAM for the OSD        (default 4 GiB)
#   S3COW_RGW_LATENCY    delay every OSD operation of the gateway by up to
#                        this many seconds (Ceph's message fault injection,
#                        "ms inject delay" in its ceph.conf section), e.g.
#                        0.02: a GET's first byte then takes several ms and
#                        a 1 MiB PUT tens of ms, as on a remote S3.
#                        Default: none
#   RGW_START_TIMEOUT    seconds to wait        (default 120)
#
# If the gateway of this state directory is already running and answers,
# it only prints.  Anything else left there is stopped and wiped first.
# Run it twice with different S3COW_RGW_DIR and S3COW_RGW_PORT for two
# independent gateways.

set -euo pipefail

dir="$(realpath -m "${S3COW_RGW_DIR:-/tmp/s3cow-rgw}")"
port="${S3COW_RGW_PORT:-7480}"
mon_port="${S3COW_RGW_MON_PORT:-$((port + 10000))}"
memstore_bytes="${RGW_MEMSTORE_BYTES:-$((4 << 30))}"
timeout="${RGW_START_TIMEOUT:-120}"
tls_port="${S3COW_RGW_TLS_PORT:-}"
latency="${S3COW_RGW_LATENCY:-}"
if [ -n "$latency" ] && ! [[ "$latency" =~ ^[0-9]*\.?[0-9]+$ ]]; then
  echo "rgw-start: S3COW_RGW_LATENCY=$latency: not seconds" >&2
  exit 1
fi

access_key=s3cowtest
secret_key=s3cowtestsecret0123456789
region=us-east-1
endpoint="http://127.0.0.1:$port"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
t0=$(date +%s%N)

die ()
{
  echo "rgw-start: $*" >&2
  exit 1
}

# Print the end of every log, for a failure that needs explaining.
show_logs ()
{
  local f
  for f in "$dir"/log/*.log "$dir"/log/*.out; do
    [ -s "$f" ] || continue
    echo "---- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
}

# --- 1. Install what is missing (fast when everything is there) ---------

need=()
command -v ceph-mon >/dev/null || need+=(ceph-mon)
command -v ceph-osd >/dev/null || need+=(ceph-osd)
command -v radosgw >/dev/null || need+=(radosgw)
command -v ceph >/dev/null || need+=(ceph-common)
command -v ceph-authtool >/dev/null || need+=(ceph-common)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "rgw-start: installing ${need[*]}"
  [ "$(id -u)" = 0 ] || die "need root to apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -qq update
  apt-get -qq install -y --no-install-recommends "${need[@]}" >/dev/null
fi

# A signed S3 request with curl.  RGW refuses SigV4 without the
# x-amz-content-sha256 header; curl signs it when we set it.
s3curl ()
{
  curl -sS --max-time 10 \
    --aws-sigv4 "aws:amz:$region:s3" --user "$access_key:$secret_key" \
    -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

write_env ()
{
  cat >"$dir/env.tmp" <<EOF
export S3COW_TEST_ENDPOINT=$endpoint
export S3COW_TEST_ACCESS_KEY=$access_key
export S3COW_TEST_SECRET_KEY=$secret_key
export S3COW_TEST_REGION=$region
export S3COW_TEST_RGW_CONF=$conf
EOF
  if [ -s "$dir/tls/port" ] && [ -s "$dir/tls/ca.pem" ]; then
    cat >>"$dir/env.tmp" <<EOF
export S3COW_TEST_TLS_ENDPOINT=https://127.0.0.1:$(cat "$dir/tls/port")
export S3COW_TEST_CA_FILE=$dir/tls/ca.pem
EOF
  fi
  mv "$dir/env.tmp" "$dir/env"
}

# Is our gateway running and answering signed requests?
answering ()
{
  local d
  for d in mon osd rgw; do
    [ -s "$dir/$d.pid" ] && kill -0 "$(cat "$dir/$d.pid")" 2>/dev/null ||
      return 1
  done
  s3curl -o /dev/null -f "$endpoint/" 2>/dev/null
}

# --- 2. Already running? -------------------------------------------------

if answering; then
  write_env
  echo "rgw-start: already running at $endpoint (state in $dir)"
  echo "rgw-start: . $dir/env"
  exit 0
fi

# Leftovers of an earlier run (stopped or crashed): stop and wipe them.
if [ -e "$dir" ]; then
  S3COW_RGW_DIR="$dir" "$here/rgw-stop.sh" >/dev/null
fi

# Something else on our ports would make a daemon fail much later, with a
# worse message.
port_busy ()
{
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "$port" "$mon_port" $tls_port; do
  if port_busy "$p"; then
    die "port $p on 127.0.0.1 is in use; set S3COW_RGW_PORT (and/or" \
      "S3COW_RGW_MON_PORT, S3COW_RGW_TLS_PORT) to free ports"
  fi
done

# --- 3. Configuration and keys -------------------------------------------

mkdir -p "$dir"/{log,run,mon.a,osd.0,crash}
fsid=$(cat /proc/sys/kernel/random/uuid)
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
conf="$dir/ceph.conf"

# HTTPS: a test CA and a server certificate it signed, for 127.0.0.1 and
# localhost (EC keys: made in a few milliseconds).  Clients trust it with
# the CA file only.
frontends="beast endpoint=127.0.0.1:$port tcp_nodelay=1"
if [ -n "$tls_port" ]; then
  command -v openssl >/dev/null || die "S3COW_RGW_TLS_PORT needs openssl"
  t="$dir/tls"
  mkdir -p "$t"
  ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  {
    openssl req -x509 "${ec[@]}" -keyout "$t/ca.key" -out "$t/ca.pem" \
      -days 30 -subj "/CN=s3cow test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" &&
      openssl req "${ec[@]}" -keyout "$t/server.key" -out "$t/server.csr" \
        -subj "/CN=127.0.0.1" &&
      printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" >"$t/server.ext" &&
      openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" \
        -CAkey "$t/ca.key" -CAcreateserial -days 30 \
        -extfile "$t/server.ext" -out "$t/server.pem"
  } >>"$dir/log/mkfs.out" 2>&1 || { show_logs; die "openssl failed"; }
  echo "$tls_port" >"$t/port"
  frontends+=" ssl_endpoint=127.0.0.1:$tls_port"
  frontends+=" ssl_certificate=$t/server.pem ssl_private_key=$t/server.key"
fi

cat >"$conf" <<EOF
# Generated by s3cow's scripts/rgw-start.sh: a throw-away test cluster.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
public addr = 127.0.0.1
ms bind ipv6 = false
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
crash dir = $dir/crash
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
mon cluster log file = $dir/log/cluster.log
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
# One OSD: every pool has a single replica, placed on it.
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
# Few placement groups: RGW makes about eight pools.
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
# No manager daemon: none of its features are needed here.
mon warn on no mgr = false

[mon]
mon data = $dir/mon.\$id
# The state directory may sit on a fairly full disk; that is fine here.
mon data avail crit = 0
mon data avail warn = 0
# Every pool RGW creates waits for a new OSD map, which the monitor
# proposes at most once a second by default: 10 s of a 12 s start.
paxos propose interval = 0.05
paxos min wait = 0.01

[osd]
osd data = $dir/osd.\$id
# Data in RAM, up to memstore device bytes.  Past 95 % full the OSD
# refuses writes: RGW requests then stall or fail.
osd objectstore = memstore
memstore device bytes = $memstore_bytes
osd crush update on start = true

[client.rgw]
rgw frontends = $frontends
rgw enable usage log = false
rgw enable ops log = false
# No lifecycle or quota work: with these threads, radosgw took 7 s to stop.
rgw enable lc threads = false
rgw enable quota threads = false
# Path-style URLs only (no rgw dns name): http://127.0.0.1:PORT/BUCKET/KEY.
# Garbage of deleted or overwritten objects is freed after a minute, not
# two hours: the OSD's data is in RAM.
rgw gc obj min wait = 60
rgw gc processor period = 60
EOF
if [ -n "$latency" ]; then
  # Every message the gateway sends to the OSD (osd_op) is held for a
  # random time up to $latency s: the latency of a remote S3.
  cat >>"$conf" <<EOF
ms inject delay type = osd
ms inject delay max = $latency
ms inject delay probability = 1
ms inject delay msg type = osd_op
EOF
fi

keyring="$dir/keyring"
ceph-authtool --create-keyring "$keyring" --gen-key -n mon. \
  --cap mon 'allow *' >/dev/null
ceph-authtool "$keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' \
  --cap mds 'allow *' >/dev/null
ceph-authtool "$keyring" --gen-key -n osd.0 \
  --cap mon 'allow profile osd' --cap osd 'allow *' \
  --cap mgr 'allow profile osd' >/dev/null
ceph-authtool "$keyring" --gen-key -n client.rgw \
  --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null

# Start one daemon in the foreground of a new session (so that it outlives
# this script and a ^C of its caller), record its PID.
start_daemon ()
{
  local name="$1"
  shift
  setsid "$@" -f -c "$conf" </dev/null >>"$dir/log/$name.out" 2>&1 &
  echo $! >"$dir/$name.pid"
}

deadline=$(($(date +%s) + timeout))
wait_for ()
{
  local what="$1"
  shift
  until "$@"; do
    local d
    for d in mon osd rgw; do
      if [ -s "$dir/$d.pid" ] && ! kill -0 "$(cat "$dir/$d.pid")" 2>/dev/null
      then
        show_logs
        die "the $d daemon exited while waiting for $what"
      fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
      show_logs
      die "timed out after ${timeout}s waiting for $what"
    fi
    sleep 0.1
  done
}

# --- 4. Monitor ----------------------------------------------------------

monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" \
  "$dir/monmap" >/dev/null
ceph-mon --mkfs -i a -c "$conf" --monmap "$dir/monmap" \
  --keyring "$keyring" >>"$dir/log/mkfs.out" 2>&1 ||
  { show_logs; die "ceph-mon --mkfs failed"; }
start_daemon mon ceph-mon -i a

# --- 5. OSD (its key is already in the monitor's auth database) ----------

# The ceph command waits for the monitor to come up.
ceph -c "$conf" --connect-timeout "$timeout" osd new "$osd_uuid" 0 \
  >>"$dir/log/mkfs.out" 2>&1 ||
  { show_logs; die "the monitor does not answer"; }
ceph-osd --mkfs -i 0 -c "$conf" --osd-uuid "$osd_uuid" \
  >>"$dir/log/mkfs.out" 2>&1 ||
  { show_logs; die "ceph-osd --mkfs failed"; }
start_daemon osd ceph-osd -i 0

# Start the gateway only once the OSD is up.  Otherwise its first request
# finds no OSD for its pool, and its client library may look at the OSD
# map again only after its 5-second tick: starts took 4 to 9 s at random.
# (Asking its admin socket with the ceph command costs 0.4 s a try; the
# OSD logs this line when it sees itself up in the map.)
osd_active ()
{
  grep -q 'state: booting -> active' "$dir/log/osd.0.log" 2>/dev/null
}
wait_for "the OSD to boot" osd_active

# --- 6. Gateway ----------------------------------------------------------

start_daemon rgw radosgw -n client.rgw

# Any HTTP answer (anonymous: 200 with an empty bucket list) means up.
http_up ()
{
  curl -s -o /dev/null --max-time 2 "$endpoint/"
}
wait_for "radosgw to answer on $endpoint" http_up

# --- 7. Test user, then check a signed request ---------------------------

radosgw-admin -c "$conf" -n client.admin user create --uid=s3cowtest \
  --display-name="s3cow tests" \
  --access-key="$access_key" --secret-key="$secret_key" \
  >>"$dir/log/mkfs.out" 2>&1 ||
  { show_logs; die "radosgw-admin user create failed"; }

signed_ok ()
{
  s3curl -o /dev/null -f "$endpoint/" 2>/dev/null
}
wait_for "a signed S3 request to succeed" signed_ok

write_env
ms=$((($(date +%s%N) - t0) / 1000000))
printf 'rgw-start: S3 at %s (state in %s), started in %d.%d s\n' \
  "$endpoint" "$dir" $((ms / 1000)) $((ms % 1000 / 100))
echo "rgw-start: . $dir/env"
