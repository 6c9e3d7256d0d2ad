# shellcheck shell=bash
# What the scripts of scripts/ share: free ports, a throw-away gateway,
# stopping a process, CPU time, pinning to CPUs.  Source it:
#
#   root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
#   . "$root/scripts/lib.sh"
#
# Every name it defines starts with lib_.  Nothing here exits: each
# function returns non-zero and the caller decides.

lib_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --- packages ----------------------------------------------------------

# lib_install PACKAGE...: apt-get install those of the Debian packages that
# are missing (real package names only: a virtual one never shows as
# installed).  Nothing to do when all are there; else needs root.
lib_install ()
{
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
      grep -q '^install ok installed$' || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "==> installing ${missing[*]}" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "need root to apt-get install ${missing[*]}" >&2
    return 1
  fi
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -qq update || return 1
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -qq install -y \
    --no-install-recommends "${missing[@]}" >/dev/null
}

# --- ports -------------------------------------------------------------

# lib_port_free PORT: nothing listens on 127.0.0.1:PORT.
lib_port_free ()
{
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# lib_free_port "PORTS" [OFFSET...]: print the first of PORTS (a list) that
# is free with each PORT + OFFSET (a gateway's monitor listens on +10000,
# its HTTPS on +20000); fail if none is.
lib_free_port ()
{
  local p o ports="$1"
  shift
  for p in $ports; do
    lib_port_free "$p" || continue
    for o in "$@"; do
      lib_port_free $((p + o)) || continue 2
    done
    echo "$p"
    return 0
  done
  return 1
}

# --- a throw-away gateway (scripts/rgw-start.sh) ------------------------

# The directory of the gateway lib_rgw_start started ("" for none).
lib_rgw_dir=

# lib_rgw_start DIR PORT [VAR=VALUE...]: start a Ceph RGW on PORT with its
# state in DIR (rgw-start.sh's environment plus VAR=VALUE), then source its
# env (S3COW_TEST_ENDPOINT, ...) and export it.  Call lib_rgw_stop on exit.
lib_rgw_start ()
{
  local dir="$1" port="$2"
  shift 2
  lib_rgw_dir="$dir"
  env S3COW_RGW_DIR="$dir" S3COW_RGW_PORT="$port" "$@" \
    "$lib_root/scripts/rgw-start.sh" || return 1
  # shellcheck disable=SC1091 # written by rgw-start.sh
  . "$dir/env"
  export S3COW_TEST_ENDPOINT S3COW_TEST_ACCESS_KEY S3COW_TEST_SECRET_KEY \
    S3COW_TEST_REGION
}

# lib_test_s3 NAME: unless S3COW_TEST_ENDPOINT names an S3 server already
# (with S3COW_TEST_ACCESS_KEY, _SECRET_KEY, _REGION), start a throw-away
# gateway on the first free port of 7480-7499, its state in
# /tmp/s3cow-rgw-NAME.PID.  Exports the S3COW_TEST_* variables (region
# us-east-1 unless given).  Call lib_rgw_stop on exit.
lib_test_s3 ()
{
  local port
  if [ -z "${S3COW_TEST_ENDPOINT:-}" ]; then
    port="$(lib_free_port "$(seq 7480 7499)" 10000)" || {
      echo "$1: no free port in 7480-7499" >&2
      return 1
    }
    echo "==> starting Ceph RGW on port $port"
    lib_rgw_start "/tmp/s3cow-rgw-$1.$$" "$port" || return 1
  fi
  export S3COW_TEST_ENDPOINT S3COW_TEST_ACCESS_KEY S3COW_TEST_SECRET_KEY
  export S3COW_TEST_REGION="${S3COW_TEST_REGION:-us-east-1}"
}

# lib_rgw_stop [rgw-stop.sh ARG...]: stop the gateway lib_rgw_start
# started, if any (quietly; never fails).
lib_rgw_stop ()
{
  [ -n "$lib_rgw_dir" ] || return 0
  S3COW_RGW_DIR="$lib_rgw_dir" timeout 120 "$lib_root/scripts/rgw-stop.sh" \
    "$@" >/dev/null 2>&1 || true
  lib_rgw_dir=
}

# --- processes ----------------------------------------------------------

# lib_running PID: does any thread of PID still run?  An exited child not
# reaped yet is a zombie, and so is the main thread of a process whose
# other threads still work (s3backer flushing after its unmount): look at
# every thread.
lib_running ()
{
  local st
  for st in /proc/"$1"/task/*/stat; do
    [ -r "$st" ] || continue
    case "$(sed 's/.*) //' "$st" 2>/dev/null | cut -d' ' -f1)" in
      Z | X | "") ;;
      *) return 0 ;;
    esac
  done
  return 1
}

# lib_stop_pid PID [SECONDS]: SIGTERM, wait up to SECONDS (default 60; an
# s3cow server commits on SIGTERM), then SIGKILL; reap it if it is ours.
lib_stop_pid ()
{
  local pid="$1" t="${2:-60}" i
  kill -TERM "$pid" 2>/dev/null || {
    wait "$pid" 2>/dev/null
    return 0
  }
  for ((i = 0; i < t * 10; i++)); do
    lib_running "$pid" || break
    sleep 0.1
  done
  if lib_running "$pid"; then
    echo "PID $pid ignored SIGTERM for ${t}s: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  return 0
}

# --- CPU time -------------------------------------------------------------

# lib_cpu_ticks PID...: utime + stime of every PID (all its threads), in
# clock ticks (getconf CLK_TCK a second).
lib_cpu_ticks ()
{
  local p n=0 v
  for p in "$@"; do
    v="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null |
      awk '{ print $12 + $13 }')"
    n=$((n + ${v:-0}))
  done
  echo "$n"
}

# lib_child_ticks: CPU ticks of the calling shell's reaped children and
# their reaped descendants (nbdcopy under timeout, curl under python).
lib_child_ticks ()
{
  sed 's/.*) //' /proc/$$/stat | awk '{ print $14 + $15 }'
}

# --- pinning to CPUs (taskset) -----------------------------------------------

# lib_pin_check WHAT CPUS PID...: does every thread of every PID have the
# CPU list CPUS as its affinity?  Says on stderr which do not.
lib_pin_check ()
{
  local what="$1" want="$2" p n bad=0
  shift 2
  for p in "$@"; do
    # one awk over every thread (radosgw has hundreds)
    n="$(awk -v w="$want" '/^Cpus_allowed_list:/ && $2 != w { n++ }
      END { print n + 0 }' /proc/"$p"/task/*/status 2>/dev/null)"
    [ "${n:-0}" = 0 ] && continue
    bad=$((bad + n))
    echo "PIN: $what: $n threads of PID $p not on CPUs $want" >&2
  done
  return $((bad > 0))
}

# lib_rgw_pids DIR: the PIDs of the gateway in DIR (ceph-mon, ceph-osd,
# radosgw), one a line.
lib_rgw_pids ()
{
  local d
  for d in mon osd rgw; do
    [ -s "$1/$d.pid" ] && cat "$1/$d.pid"
  done
  return 0
}

# lib_pin_rgw DIR CPUS: every thread of the gateway in DIR on CPUS, checked.
lib_pin_rgw ()
{
  local p pids
  pids="$(lib_rgw_pids "$1")"
  [ -n "$pids" ] || return 1
  for p in $pids; do
    taskset -a -p -c "$2" "$p" >/dev/null || return 1
  done
  # shellcheck disable=SC2086 # a list of PIDs
  lib_pin_check rgw "$2" $pids
}

# lib_pin_self CPUS: the calling shell, and all it starts from now on, on
# CPUS, checked.
lib_pin_self ()
{
  taskset -p -c "$1" $$ >/dev/null && lib_pin_check shell "$1" $$
}
