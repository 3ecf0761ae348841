#!/usr/bin/env bash
# lower-bound.sh TARBALL [BATTERY]: how many syscalls any sound image-scope profile of the image
# must allow at least, measured: base's battery (tests/batteries/base.sh: the shared 408 commands
# and 87 administration commands), then BATTERY (the image's own, e.g. tests/batteries/nginx.sh),
# run in one container under strace -f (../shared/corpus/battery.sh --trace); every syscall they
# make, with those the container runtime needs (../shared/corpus/runtime-syscalls.txt), must be
# allowed. A lower bound, like any trace: programs the batteries do not run only add to it.
# With PROFILE=FILE, also prints the traced syscalls the profile lacks (a soundness bug: none).
# Prints: "IMAGE: N traced, M with the runtime's[, profile P allowed, K traced and not allowed]".
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${DOCKERGATE_CORPUS_TOOLS:-$root/../shared/corpus}
tar=${1:?usage: lower-bound.sh TARBALL [BATTERY]}
battery=${2:-}
name=$(basename "$tar" .docker.tar)
work=$(mktemp -d /tmp/dockergate-lower-bound.XXXXXX)
trap 'rm -rf "$work"' EXIT
# One script: base's battery without its end marker, then the image's without its own include
# of the shared base battery (already run).
{
  grep -v '^echo BATTERY-END' "$root/tests/batteries/base.sh"
  if [ -n "$battery" ]; then
    echo 'export LC_ALL=C.UTF-8'
    grep -v -e '^BATTERY_INCLUDED=1$' -e '^\. /\.evalbattery/shared/base\.sh$' "$battery"
  else
    echo 'echo BATTERY-END $B'
  fi
} > "$work/battery.sh"
"$corpus/battery.sh" --trace "$name-bound" "$tar" "$work/traced.txt" "$work/battery.sh" >/dev/null 2>&1 ||
  { echo "$name: the battery did not run (see ${LOGDIR:-/tmp/eval-logs}/$name-bound.battery-trace.log)"; exit 2; }
grep -v '^#' "$corpus/runtime-syscalls.txt" | tr ' ,\t' '\n\n\n' | grep -E '^[a-z_0-9]+$' | sort -u > "$work/runtime.txt"
sort -u "$work/traced.txt" > "$work/t.txt"
traced=$(grep -c . "$work/t.txt")
bound=$(sort -u "$work/t.txt" "$work/runtime.txt" | grep -c .)
line="$name: $traced traced, $bound with the runtime's"
if [ -n "${PROFILE:-}" ]; then
  jq -r '.syscalls[].names[]' "$PROFILE" | sort -u > "$work/allowed.txt"
  missing=$(comm -23 "$work/t.txt" "$work/allowed.txt")
  line="$line, profile $(grep -c . "$work/allowed.txt") allowed, $(printf '%s' "$missing" | grep -c .) traced and not allowed${missing:+: $(echo $missing)}"
fi
echo "$line"
