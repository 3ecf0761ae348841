#!/usr/bin/env bash
# demo.sh: the main job on a sample image the repo builds itself.
# Installs what is missing, builds dockergate, builds a real nginx image from Debian packages
# (podman + debootstrap, ~1 min the first time), writes its seccomp profile and evidence, and
# runs nginx under the profile in a real container with a workload (PASS/FAIL).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${DOCKERGATE_CORPUS_TOOLS:-$root/../shared/corpus}
sample=${SAMPLE:-nginx}
out=$root/target/sample
"$root/scripts/setup.sh"
cargo build --release --manifest-path "$root/Cargo.toml" --bin dockergate
mkdir -p "$out"
"$corpus/build-corpus.sh" "$out" "$sample"
"$root/target/release/dockergate" profile "docker-archive:$out/$sample.docker.tar" \
  -o "$out/$sample.seccomp.json" --evidence "$out/$sample.evidence.json"
echo "profile:  $out/$sample.seccomp.json"
echo "evidence: $out/$sample.evidence.json"
"$corpus/profile-stats.py" "$out/$sample.seccomp.json" | awk -F'\t' '{print "allowed syscalls: " $1}'
"$corpus/run-under-profile.sh" "$sample" "$out/$sample.docker.tar" "$out/$sample.seccomp.json"
