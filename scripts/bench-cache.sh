#!/usr/bin/env bash
# bench-cache.sh CORPUSDIR [NAME...]
#
# For each image CORPUSDIR/NAME.docker.tar (default: every *.docker.tar there), times
# `dockergate profile` cold (an empty cache) and warm (the cache it filled), next to the read
# floor (crates/source/examples/read_floor.rs: only reading and decompressing the layers), and
# prints one row per image:
#   cold_s, warm_s   wall seconds (median of $RUNS runs; each cold run starts from an empty cache;
#                    warm: the same image and options again, its whole report replayed)
#   summ_s           warm with other options (a new --exclude each run): the report is not
#                    reused, every object summary comes from the cache, reachability is computed
#   floor_s          the read floor (median of $RUNS after a warm-up)
#   cold/floor       how far cold is from only reading (issue 6 asks for 8 or less)
#   vfloor_s         the floor of a reader that checks the layers' digests, as dockergate does
#                    (`read_floor --verify`: the same reads plus sha256 of the layers, one thread)
#   cold/vfloor      how far cold is from that
#   cold/warm        speed-up from the cache;  warm/floor: how far warm is from only reading
#   rss_cold, rss_warm   peak RSS in MiB (/usr/bin/time -v)
#   analysed         objects analysed cold;  cached/analysed: taken from the cache / analysed warm
#   same             profile and evidence byte-identical cold, warm and with --no-cache
# PAIRS="nginx:redis …" adds, per pair A:B, the time of B on a cache that only A filled (images
# that share libc and most libraries), next to B's cold time and their ratio.
# SCOPE (default image: every program analysed, the most work) is passed as --scope.
# The cache is a SQLite file under $BENCH_DIR (default /tmp/dockergate-bench-cache); set
# BENCH_CACHE=postgres://… to measure a PostgreSQL cache instead (cleared before each cold run).
# The page cache is warm (a warm-up run first). Not a test: numbers depend on the machine and on
# what else runs on it (the load average is printed before and after).
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
dg=$root/target/release/dockergate
floor=$root/target/release/examples/read_floor
runs=${RUNS:-3}
work=${BENCH_DIR:-/tmp/dockergate-bench-cache}
mkdir -p "$work"
[ -x /usr/bin/time ] || { echo "bench-cache: /usr/bin/time is needed (apt-get install time)" >&2; exit 2; }

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : "nan")}'; }

# run TAG CACHE-ARGS...: one profile run; prints "seconds rss_kib hits misses" and keeps the
# outputs as $work/TAG.json and $work/TAG.evidence.json
run() {
  local tag=$1; shift
  local s e
  s=$(now)
  /usr/bin/time -v -o "$work/$tag.time" "$dg" profile --scope "${SCOPE:-image}" "$ref" -o "$work/$tag.json" \
    --evidence "$work/$tag.evidence.json" --unresolved=allow-all -v "$@" 2>"$work/$tag.err" >/dev/null
  local rc=$?
  e=$(now)
  if [ $rc -ne 0 ]; then echo "fail"; return; fi
  local rss hits misses
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/$tag.time")
  hits=$(sed -n 's/^cache: [0-9]* objects: \([0-9]*\) from cache, \([0-9]*\) analysed.*/\1/p' "$work/$tag.err")
  misses=$(sed -n 's/^cache: [0-9]* objects: \([0-9]*\) from cache, \([0-9]*\) analysed.*/\2/p' "$work/$tag.err")
  echo "$(echo "$e - $s" | bc -l) $rss ${hits:-0} ${misses:-0}"
}

clear_cache() {
  case $cache in
    postgres://*|postgresql://*) "$dg" cache clear --cache "$cache" >/dev/null ;;
    *) rm -f "$cache" "$cache-wal" "$cache-shm" ;;
  esac
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)   cores: $(nproc)   runs: $runs"
printf '%-9s %8s %8s %8s %8s %10s %8s %11s %9s %10s %9s %9s %9s %16s %5s\n' \
  image cold_s warm_s summ_s floor_s cold/floor vfloor_s cold/vfloor cold/warm warm/floor rss_cold rss_warm analysed cached/analysed same
for name in "$@"; do
  tar=$corpus/$name.docker.tar
  ref=docker-archive:$tar
  cache=${BENCH_CACHE:-$work/$name.db}
  if [ ! -f "$tar" ]; then echo "$name: no $tar" >&2; continue; fi
  # Warm-up (page cache), and the reference without any cache.
  nc=$(run "$name.nocache" --no-cache)
  if [ "$nc" = fail ]; then
    printf '%-9s %s\n' "$name" "fail: $(tail -1 "$work/$name.nocache.err")"
    continue
  fi
  cold_t=(); cold_rss=(); warm_t=(); warm_rss=(); summ_t=(); fl=(); vfl=()
  for i in $(seq "$runs"); do
    clear_cache
    read -r t rss h m <<<"$(run "$name.cold" --cache "$cache")"
    cold_t+=("$t"); cold_rss+=("$rss"); analysed=$m
  done
  for i in $(seq "$runs"); do
    read -r t rss h m <<<"$(run "$name.warm" --cache "$cache")"
    warm_t+=("$t"); warm_rss+=("$rss")
  done
  for i in $(seq "$runs"); do
    read -r t rss h m <<<"$(run "$name.summ" --cache "$cache" --exclude "/.dockergate-bench-$$-$i")"
    summ_t+=("$t"); whits=$h; wmiss=$m
  done
  "$floor" "$ref" >/dev/null 2>&1
  for i in $(seq "$runs"); do fl+=("$("$floor" "$ref" | cut -d' ' -f1)"); done
  for i in $(seq "$runs"); do vfl+=("$("$floor" --verify "$ref" | cut -d' ' -f1)"); done
  ct=$(printf '%s\n' "${cold_t[@]}" | median)
  wt=$(printf '%s\n' "${warm_t[@]}" | median)
  st=$(printf '%s\n' "${summ_t[@]}" | median)
  ft=$(printf '%s\n' "${fl[@]}" | median)
  vft=$(printf '%s\n' "${vfl[@]}" | median)
  cr=$(printf '%s\n' "${cold_rss[@]}" | median)
  wr=$(printf '%s\n' "${warm_rss[@]}" | median)
  same=yes
  for tag in cold warm summ; do
    cmp -s "$work/$name.nocache.json" "$work/$name.$tag.json" || same=NO
    cmp -s "$work/$name.nocache.evidence.json" "$work/$name.$tag.evidence.json" || same=NO
  done
  printf '%-9s %8.3f %8.3f %8.3f %8.3f %10.1f %8.3f %11.1f %9.1f %10.1f %8.0fM %8.0fM %9s %16s %5s\n' "$name" "$ct" "$wt" "$st" "$ft" \
    "$(echo "if ($ft > 0) $ct / $ft else 0" | bc -l)" "$vft" "$(echo "if ($vft > 0) $ct / $vft else 0" | bc -l)" \
    "$(echo "$ct / $wt" | bc -l)" "$(echo "if ($ft > 0) $wt / $ft else 0" | bc -l)" \
    "$(echo "$cr / 1024" | bc -l)" "$(echo "$wr / 1024" | bc -l)" "$analysed" "$whits/$wmiss" "$same"
done
for pair in ${PAIRS:-}; do
  a=${pair%%:*}; b=${pair#*:}
  ta=$corpus/$a.docker.tar; tb=$corpus/$b.docker.tar
  [ -f "$ta" ] && [ -f "$tb" ] || { echo "$pair: missing image" >&2; continue; }
  cache=$work/pair.db
  cold_b=(); after=()
  for i in $(seq "$runs"); do
    rm -f "$cache" "$cache-wal" "$cache-shm"
    ref=docker-archive:$tb; read -r t _ _ _ <<<"$(run "$b.paircold" --cache "$cache")"; cold_b+=("$t")
    rm -f "$cache" "$cache-wal" "$cache-shm"
    ref=docker-archive:$ta; run "$a.pairfirst" --cache "$cache" >/dev/null
    ref=docker-archive:$tb; read -r t _ h m <<<"$(run "$b.pairafter" --cache "$cache")"; after+=("$t")
  done
  cb=$(printf '%s\n' "${cold_b[@]}" | median)
  ab=$(printf '%s\n' "${after[@]}" | median)
  same=yes
  cmp -s "$work/$b.paircold.json" "$work/$b.pairafter.json" || same=NO
  cmp -s "$work/$b.paircold.evidence.json" "$work/$b.pairafter.evidence.json" || same=NO
  progs=$(sed -n 's/^cache: [0-9]* programs: \([0-9]*\) from cache, \([0-9]*\) analysed.*/\1\/\2/p' "$work/$b.pairafter.err")
  printf '%s after %s: %.3f s (cold %.3f s, ratio %.2f; objects from cache/analysed %s/%s; programs %s; same output %s)\n' \
    "$b" "$a" "$ab" "$cb" "$(echo "$ab / $cb" | bc -l)" "$h" "$m" "${progs:-0/0}" "$same"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
