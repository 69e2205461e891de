#!/bin/sh
# Last line of defence for "no process survives the test run": started by the
# vitest global setup, it polls the vitest process and, if that dies without
# running its teardown (SIGKILL, OOM killer, crashed runner), SIGKILLs every
# process group listed in harness.pid of each run folder it was given.
#
# usage: watchdog.sh <owner-pid> <keep-only-logs 0|1> <main run dir> <pg dir|-> [<run dir> <pg dir|->]...
#   <pg dir>: PostgreSQL's folder when it lives outside the run folder (root), deleted; - for none.
#   The first run folder is the main harness: once its harness.json has existed
#   and is gone, teardown ran and the watchdog exits quietly. The others (the
#   second cluster) may be started later by a test, or never.
owner=$1 keep=$2
shift 2
main=$1/harness.json
seen=0
while kill -0 "$owner" 2>/dev/null; do
  if [ -f "$main" ]; then
    seen=1
  elif [ "$seen" = 1 ]; then
    exit 0
  fi
  sleep 1
done
# Two passes: a test worker that was starting cluster B may outlive the runner
# by a moment and record a process after the first pass.
cleanup() {
  while [ $# -ge 2 ]; do
    dir=$1 pgdir=$2
    shift 2
    if [ -f "$dir/harness.pid" ]; then
      while read -r name pid; do
        # dash: no `--` before a negative pid (it would be parsed as a number)
        [ -n "$pid" ] && kill -KILL "-$pid" 2>/dev/null && echo "watchdog: killed $name (pgid $pid)"
      done < "$dir/harness.pid"
    fi
    rm -f "$dir/harness.json" "$dir/harness.pid"
    # The second cluster's folder sits inside the main one; it is emptied on its own turn.
    [ "$keep" = 1 ] && [ -d "$dir" ] && find "$dir" -mindepth 1 -maxdepth 1 ! -name logs ! -name cluster-b -exec rm -rf {} +
    [ "$pgdir" != - ] && rm -rf "$pgdir"
  done
}
cleanup "$@"
sleep 3
cleanup "$@"
exit 0
