#!/usr/bin/env bash
# A client whose open fails (here: the disk is locked by another server)
# gets only "unknown export" from nbdkit 1.32 (NBD_REP_ERR_UNKNOWN, no
# message: nbdinfo says "No such file or directory", qemu "Requested
# export not available").  The reason is then in the export's description
# in the export list (NBD_OPT_LIST), where a client can read it; it goes
# once the disk opens.
source "${srcdir:-.}/functions.sh"
set -euo pipefail

requires nbdkit nbdsh nbdinfo s3cow
use_store dir
s3cow create d 1M

# Server a serves d and holds its lease once a client has opened it.
start_nbdkit "$tmpdir/a" "${store[@]}" export=d
a=$nbdkit_pid
nbdinfo --size "nbd+unix:///?socket=$tmpdir/a" >/dev/null

# Server b serves every disk: d is locked.
start_nbdkit "$tmpdir/b" "${store[@]}"
b=$nbdkit_pid
if nbdinfo "nbd+unix:///d?socket=$tmpdir/b" >"$tmpdir/info" 2>&1; then
  fail "server b opened d while a holds it"
fi
# listed NAME: the description server b lists for NAME.
listed ()
{
  nbdsh -c "
h.set_opt_mode(True)
h.connect_uri('nbd+unix:///?socket=$tmpdir/b')
h.opt_list(lambda name, desc: print(desc) if name == '$1' else None)
h.opt_abort()
"
}
desc="$(listed d)"
case "$desc" in
  *"could not be opened at "*"UTC: disk d is locked by "*"pid $a "*) ;;
  *) fail "the listed description of d does not say why it could not be
opened: '$desc' (nbdinfo said: $(cat "$tmpdir/info"))" ;;
esac

# Once a has let d go, b opens it, and the note is gone.
stop_nbdkit "$a" || fail "server a exited with status $?"
nbdinfo --size "nbd+unix:///d?socket=$tmpdir/b" >/dev/null ||
  fail "server b cannot open d once a has stopped"
desc="$(listed d)"
case "$desc" in
  *"could not be opened"*) fail "the note stayed after d opened: $desc" ;;
esac
stop_nbdkit "$b" || fail "server b exited with status $?"
echo "$0: PASS"
