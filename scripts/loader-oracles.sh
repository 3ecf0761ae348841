#!/usr/bin/env bash
# loader-oracles.sh [CORPUS_DIR] : every check of the loader model against the real loaders.
#   1. cargo tests of crates/loader and crates/elf (glibc and musl rules: as root each synthetic tree
#      also runs for real in a chroot; the hostile-ELF test) and the CLI's loader_* tests
#      (--bindings against LD_DEBUG=bindings);
#   2. builds the muslapp fixture image if it is missing (tests/fixtures/musl-images.sh);
#   3. ldd-oracle.sh on the corpus images and muslapp (MAX=1000).
# Run as root from anywhere; prints each step's summary and exits non-zero when one fails.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CORPUS=${1:-/tmp/evalcorpus}
HARNESS=${HARNESS:-/work/shared/corpus}
export CORPUS_EXTRA=$ROOT/tests/fixtures/musl-images.sh
cd "$ROOT" || exit 2
rc=0
step() { echo "== $*" >&2; }

step "cargo tests (loader, elf, cli loader_*)"
out=$(cargo test -p dockergate-loader -p dockergate-elf -- --nocapture 2>&1; cargo test -p dockergate --test 'loader_*' -- --nocapture 2>&1)
echo "$out" | grep -E "^test result|bindings agreement|hostile inputs|FAILED|panicked" >&2
echo "$out" | grep -q -E "FAILED|panicked" && rc=1

step "release build"
cargo build --release 2>&1 | tail -1 >&2 || exit 2

if [ ! -f "$CORPUS/muslapp.docker.tar" ]; then
  step "building muslapp"
  "$HARNESS/build-corpus.sh" "$CORPUS" muslapp || rc=1
fi

step "ldd-oracle (MAX=1000)"
names=()
for n in base nginx redis python3 muslapp; do [ -f "$CORPUS/$n.docker.tar" ] && names+=("$n"); done
MAX=1000 "$HARNESS/ldd-oracle.sh" target/release/dockergate "$CORPUS" "${names[@]}" | tail -20 >&2 || rc=1
exit $rc
