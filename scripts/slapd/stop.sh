#!/usr/bin/env bash
# Stops a slapd started by start.sh and waits until it has exited.
#
#   scripts/slapd/stop.sh --dir DIR [--remove]
#
# --remove also deletes DIR. Stopping a server that is not running is not an error.
set -euo pipefail

dir="${SLAPD_DIR:-}"
remove=false
while [ $# -gt 0 ]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --remove) remove=true; shift ;;
    *) echo "stop.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$dir" ] || { echo "stop.sh: --dir is required" >&2; exit 2; }

if [ -f "$dir/slapd.pid" ]; then
  pid="$(cat "$dir/slapd.pid")"
  if kill -INT "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/slapd.pid" "$dir/url" "$dir/ldaps-url"
fi

if [ "$remove" = true ]; then
  # Only a directory start.sh made (it holds slapd.conf) is removed.
  if [ -f "$dir/slapd.conf" ]; then rm -rf "$dir"; else echo "stop.sh: $dir is not a slapd directory; left in place" >&2; fi
fi
