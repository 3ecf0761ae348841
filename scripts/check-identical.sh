#!/usr/bin/env bash
# check-identical.sh save|check BASELINE_DIR [NAME...]
#
# Guards performance work: `dockergate profile` must write the same bytes before and after.
#   save   runs the profile of every corpus image once (--no-cache) and keeps the profile, the
#          evidence and stderr under BASELINE_DIR (do this with the binary you start from).
#   check  runs every image without a cache, cold (an empty cache), warm (the cache the cold run
#          filled) and, with J1=1, on one thread (-j 1), and compares each profile, evidence
#          and stderr byte for byte with the baseline. Exits 1 on any difference.
# Images: CORPUS/NAME.docker.tar (CORPUS default /tmp/evalcorpus; default: save every image
# there, check every image the baseline holds; an image whose run fails is not saved).
# Binary: $DG (default: target/release/dockergate, built first unless DG is set).
# Outputs of a check are left under $WORK (default /tmp/dockergate-check) for a closer look.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 save|check BASELINE_DIR [NAME...]" >&2
  exit 2
fi
mode=$1 base=$2; shift 2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${CORPUS:-/tmp/evalcorpus}
if [ -z "${DG:-}" ]; then
  (cd "$root" && cargo build --release -q -p dockergate --bin dockergate) || exit 2
  DG=${CARGO_TARGET_DIR:-$root/target}/release/dockergate
fi
if [ $# -eq 0 ] && [ "$mode" = check ]; then
  # every image the baseline has a profile of (one that failed when saved is left out)
  set -- $(cd "$base" && ls *.evidence.json 2>/dev/null | sed 's/\.evidence\.json$//')
elif [ $# -eq 0 ]; then
  set -- $(cd "$corpus" && ls *.docker.tar 2>/dev/null | sed 's/\.docker\.tar$//')
fi
work=${WORK:-/tmp/dockergate-check}
mkdir -p "$base" "$work"

# run OUTPREFIX ARGS...: one profile run of $ref; stderr without the progress and timing lines
run() {
  local out=$1; shift
  "$DG" profile "$ref" -o "$out.json" --evidence "$out.evidence.json" --unresolved=allow-all "$@" \
    2>"$out.stderr.raw" >/dev/null
  echo "exit $?" >>"$out.stderr.raw"
  grep -v -e '^\[timing\]' -e '^\[request\]' "$out.stderr.raw" >"$out.stderr"
}

same() { # A B: prints what differs
  local a=$1 b=$2 bad=0 f
  for f in json evidence.json stderr; do
    if ! cmp -s "$a.$f" "$b.$f"; then
      echo "    differs: $f ($a.$f vs $b.$f)"
      bad=1
    fi
  done
  return $bad
}

status=0
for name in "$@"; do
  ref=docker-archive:$corpus/$name.docker.tar
  case $mode in
    save)
      run "$base/$name" --no-cache
      if [ ! -f "$base/$name.evidence.json" ]; then
        echo "$name: failed, left out: $(grep -m1 -e panicked -e error "$base/$name.stderr")"
        rm -f "$base/$name".*
        continue
      fi
      echo "$name: saved ($(sha256sum <"$base/$name.json" | cut -c1-12) $(sha256sum <"$base/$name.evidence.json" | cut -c1-12))"
      ;;
    check)
      cache=$work/$name.db
      rm -f "$cache" "$cache-wal" "$cache-shm"
      runs="nocache cold warm"
      [ "${J1:-0}" = 1 ] && runs="$runs j1"
      ok=yes
      for r in $runs; do
        case $r in
          nocache) run "$work/$name.$r" --no-cache ;;
          cold|warm) run "$work/$name.$r" --cache "$cache" ;;
          j1) run "$work/$name.$r" --no-cache -j 1 ;;
        esac
        same "$base/$name" "$work/$name.$r" || { ok=NO; echo "  $name $r differs"; }
      done
      echo "$name: identical: $ok ($runs)"
      [ $ok = yes ] || status=1
      ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
done
exit $status
