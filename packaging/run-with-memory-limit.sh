#!/usr/bin/env bash
# Run a command under a hard memory limit (a Linux memory cgroup; needs root) and report its
# peak charged memory: the check behind the README's "bounded memory" numbers for large images.
#   packaging/run-with-memory-limit.sh 2048 .venv/bin/terf-studio fuse vi.png ir.png -o out.png
# The cgroup counts everything the command makes resident, the page cache of the files it
# writes and maps included; the kernel reclaims those pages under the limit, so the command
# either finishes within it or is killed (reported as "killed").
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 LIMIT_MB COMMAND [ARGS...]" >&2
  exit 2
fi
limit_mb=$1
shift
name="terf-studio-limit-$$"
if [ -d /sys/fs/cgroup/memory ]; then  # cgroup v1
  group=/sys/fs/cgroup/memory/$name
  mkdir "$group" || exit 2
  echo $((limit_mb * 1024 * 1024)) > "$group/memory.limit_in_bytes"
  echo $((limit_mb * 1024 * 1024)) > "$group/memory.memsw.limit_in_bytes" 2>/dev/null || true
  peak_file=memory.max_usage_in_bytes
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then  # cgroup v2
  group=/sys/fs/cgroup/$name
  mkdir "$group" || exit 2
  echo $((limit_mb * 1024 * 1024)) > "$group/memory.max"
  echo 0 > "$group/memory.swap.max" 2>/dev/null || true
  peak_file=memory.peak
else
  echo "no memory cgroup here" >&2
  exit 2
fi
start=$(date +%s)
( echo $BASHPID > "$group/cgroup.procs" && exec "$@" )
status=$?
seconds=$(( $(date +%s) - start ))
peak=$(cat "$group/$peak_file" 2>/dev/null || echo 0)
killed=$(grep -s oom_kill "$group/memory.oom_control" "$group/memory.events" | awk '{print $2}' | tail -1)
rmdir "$group" 2>/dev/null || true
echo "limit ${limit_mb} MB: exit ${status}, peak $((peak / 1024 / 1024)) MB charged, ${seconds} s, oom kills ${killed:-0}" >&2
[ "${killed:-0}" = 0 ] || echo "killed" >&2
exit $status
