# shellcheck shell=bash
# Helpers for shell tests that put tests/faultproxy.py between the plugin
# and the S3 test server, on top of functions.sh:
#
#   start_proxy [FAULTPROXY-SERVE-ARG...]   # sets $proxy_endpoint and
#                                          # $proxy_ctl (control port); the
#                                          # proxy is stopped at exit; with
#                                          # cli-functions.sh, s3args_proxy:
#                                          # s3args through the proxy
#   proxy_ctl set 500=1 match='PUT .*/head$'
#   proxy_ctl clear

start_proxy ()
{
  local pf="$tmpdir/proxy.ports" i
  rm -f "$pf"
  /usr/bin/python3 "$srcdir/faultproxy.py" serve \
    --upstream "$S3COW_TEST_ENDPOINT" --port-file "$pf" \
    --log "$tmpdir/proxy.log" "$@" >>"$tmpdir/proxy.out" 2>&1 &
  proxy_pid=$!
  cleanup_fn _stop_proxy "$proxy_pid"
  for ((i = 0; i < 200; i++)); do
    [ -s "$pf" ] && break
    kill -0 "$proxy_pid" 2>/dev/null || fail "faultproxy.py exited early"
    sleep 0.05
  done
  [ -s "$pf" ] || fail "faultproxy.py did not start"
  read -r proxy_port proxy_ctl_port <"$pf"
  proxy_endpoint="http://127.0.0.1:$proxy_port"
  if declare -p s3args >/dev/null 2>&1; then
    local a
    s3args_proxy=()
    for a in "${s3args[@]}"; do
      case "$a" in
        endpoint=*) s3args_proxy+=("endpoint=$proxy_endpoint") ;;
        *) s3args_proxy+=("$a") ;;
      esac
    done
  fi
}

_stop_proxy ()
{
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

proxy_ctl ()
{
  /usr/bin/python3 "$srcdir/faultproxy.py" ctl "$proxy_ctl_port" "$@" \
    >/dev/null || fail "faultproxy.py ctl $*"
}
