#!/usr/bin/env bash
# bench-ls.sh CORPUSDIR [NAME...]
#
# For each image CORPUSDIR/NAME.docker.tar (default: every *.docker.tar there), prints the wall
# time of `dockergate ls` next to the read floor (the time to only read and decompress its layers,
# crates/source/examples/read_floor.rs) and their ratio; each the median of 3 runs after one
# warm-up run (so the page cache is warm). The last two columns are the floor of a reader that
# also verifies the digests (sha256 of the stored and expanded bytes, on one thread:
# `read_floor --verify`) and the ratio of ls to it. Set FORMS="docker-archive oci-gzip oci-zstd" to also time
# OCI layouts with compressed layers (made once with skopeo under $BENCH_DIR, default
# /tmp/dockergate-bench). Not a test: numbers depend on the machine and on what else runs on it.
set -u
if [ $# -lt 1 ]; then
  echo "usage: $0 CORPUSDIR [NAME...]" >&2
  exit 2
fi
corpus=$1; shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 2
if [ $# -eq 0 ]; then
  set -- $(cd "$corpus" && ls *.docker.tar 2>/dev/null | sed 's/\.docker\.tar$//')
fi
cargo build --release -q -p dockergate --bin dockergate || exit 2
cargo build --release -q -p dockergate-source --example read_floor || exit 2
dockergate=$root/target/release/dockergate
floor=$root/target/release/examples/read_floor
forms=${FORMS:-docker-archive}
bench=${BENCH_DIR:-/tmp/dockergate-bench}

# median of 3 wall times (seconds) of a command, after one warm-up run
median3() {
  "$@" >/dev/null 2>&1 || { echo "fail"; return; }
  local t=()
  for _ in 1 2 3; do
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    e=$(date +%s.%N)
    t+=("$(echo "$e - $s" | bc -l)")
  done
  printf '%s\n' "${t[@]}" | sort -g | sed -n 2p
}

ref_for() { # NAME FORM -> an image reference
  local name=$1 form=$2 tar=$corpus/$1.docker.tar
  case $form in
    docker-archive) echo "docker-archive:$tar" ;;
    oci-gzip|oci-zstd)
      local dir=$bench/$name-$form fmt=${form#oci-}
      if [ ! -f "$dir/index.json" ]; then
        mkdir -p "$bench"
        skopeo copy -q --dest-compress --dest-compress-format "$fmt" "docker-archive:$tar" "oci:$dir:latest" >&2 || return 1
      fi
      echo "oci:$dir"
      ;;
    *) echo "unknown form $form" >&2; return 1 ;;
  esac
}

# Timings mean little on a busy machine: say how busy it was.
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
printf '%-10s %-15s %8s %8s %7s %9s %7s\n' image form ls_s floor_s ratio verify_s ratio_v
for name in "$@"; do
  for form in $forms; do
    ref=$(ref_for "$name" "$form") || continue
    ls_t=$(median3 "$dockergate" ls "$ref")
    fl_t=$(median3 "$floor" "$ref")
    vf_t=$(median3 "$floor" --verify "$ref")
    if [ "$ls_t" = fail ] || [ "$fl_t" = fail ] || [ "$vf_t" = fail ]; then
      printf '%-10s %-15s %8s %8s %7s %9s %7s\n' "$name" "$form" "$ls_t" "$fl_t" - "$vf_t" -
      continue
    fi
    ratio=$(echo "if ($fl_t > 0) $ls_t / $fl_t else 0" | bc -l)
    ratio_v=$(echo "if ($vf_t > 0) $ls_t / $vf_t else 0" | bc -l)
    printf '%-10s %-15s %8.3f %8.3f %7.2f %9.3f %7.2f\n' "$name" "$form" "$ls_t" "$fl_t" "$ratio" "$vf_t" "$ratio_v"
  done
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
