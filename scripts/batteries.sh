#!/usr/bin/env bash
# batteries.sh [NAME...]: every battery of tests/batteries (default: all) against the image-scope
# profile of its image, in real containers (podman + runc, log mode: ../shared/corpus/battery.sh).
# Builds the images it needs into target/e2e (corpus images and tests/fixtures/server-images.sh),
# profiles each with the release build, and prints one line per battery; exits 1 when any battery
# finds a call its profile would deny, 2 when one gives no verdict. An image-scope profile must give
# "0 denied" on every battery. scripts/e2e.sh (CI) runs nginx, redis, python3, nodeweb and javaweb;
# the others take longer (pgsql about 2 minutes).
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${DOCKERGATE_CORPUS_TOOLS:-$root/../shared/corpus}
out=$root/target/e2e
bin=$root/target/release/dockergate
mkdir -p "$out"
cargo build --release --manifest-path "$root/Cargo.toml" --bin dockergate || exit 2
if [ $# -eq 0 ]; then
  set -- $(cd "$root/tests/batteries" && ls *.sh | sed 's/\.sh$//')
fi
export CORPUS_EXTRA=$root/tests/fixtures/server-images.sh
worst=0
for name in "$@"; do
  [ -f "$out/$name.docker.tar" ] || "$corpus/build-corpus.sh" "$out" "$name" >/dev/null || {
    echo "$name: the image could not be built"; worst=2; continue; }
  "$bin" profile -q --scope image "docker-archive:$out/$name.docker.tar" -o "$out/$name.json" \
    --evidence "$out/$name.evidence.json" || { echo "$name: no profile"; worst=2; continue; }
  "$corpus/battery.sh" "$name" "$out/$name.docker.tar" "$out/$name.json" \
    "$root/tests/batteries/$name.sh" | tail -n 1
  rc=${PIPESTATUS[0]}
  [ "$rc" -gt "$worst" ] && worst=$rc
done
exit "$worst"
