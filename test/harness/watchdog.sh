#!/bin/sh
# Last line of defence for "no process survives the test run": started by the
# vitest global setup, it polls the vitest process and, if that dies without
# running its teardown (SIGKILL, OOM killer, crashed runner), SIGKILLs every
# process group listed in harness.pid. Exits quietly once the harness has been
# stopped normally (harness.json removed).
# usage: watchdog.sh <owner-pid> <harness.json> <harness.pid> [private run dir to empty, logs kept] [pg dir to delete]
owner=$1 state=$2 pidfile=$3 private=$4 pgdir=$5
while kill -0 "$owner" 2>/dev/null; do
  [ -f "$state" ] || exit 0
  sleep 1
done
[ -f "$state" ] || exit 0
while read -r name pid; do
  # dash: no `--` before a negative pid (it would be parsed as a number)
  [ -n "$pid" ] && kill -KILL "-$pid" 2>/dev/null && echo "watchdog: killed $name (pgid $pid)"
done < "$pidfile"
rm -f "$state" "$pidfile"
[ -n "$private" ] && find "$private" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
[ -n "$pgdir" ] && rm -rf "$pgdir"
exit 0
