#!/usr/bin/env bash
# e2e.sh: end-to-end checks with the real CLI, real images and real containers (podman + runc):
#   - nginx: its profile (the default, entrypoint scope) lets nginx serve the corpus workload
#     (run-under-profile PASS);
#   - base: its entrypoint-scope profile (109 syscalls: bash's) runs the corpus workload, and its
#     image-scope profile denies nothing in the image's battery of 400 commands;
#   - nginx, redis, python3, nodeweb, javaweb: their image-scope profiles deny nothing in base's battery followed by
#     the server's or interpreter's own (tests/batteries: nginx reloads and upgrades its binary,
#     redis persists, replicates and benchmarks, python3 and node run their standard libraries'
#     system calls, the JVM runs a program compiled there under every collector, and jcmd & co
#     attach to it);
#   - javaweb, nodeweb, caddy, memcached (tests/fixtures/server-images.sh): servers of other kinds
#     serve their workloads under their profiles (JNI functions found with dlsym in a
#     library another ELF needs; pkey_alloc found with dlsym by V8; a Go binary with big frames; an
#     image with full perl, whose Sys/Hostname.pm calls perl's syscall builtin).
# Fails on the first FAIL. Images are built into target/e2e (cached across runs).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
corpus=${DOCKERGATE_CORPUS_TOOLS:-$root/../shared/corpus}
out=$root/target/e2e
bin=$root/target/release/dockergate
mkdir -p "$out"
cargo build --release --manifest-path "$root/Cargo.toml" --bin dockergate
"$corpus/build-corpus.sh" "$out" nginx base
export CORPUS_EXTRA=$root/tests/fixtures/server-images.sh
"$corpus/build-corpus.sh" "$out" javaweb nodeweb caddy memcached
fail=0
"$bin" profile "docker-archive:$out/nginx.docker.tar" -o "$out/nginx.json" --evidence "$out/nginx.evidence.json"
"$corpus/run-under-profile.sh" nginx "$out/nginx.docker.tar" "$out/nginx.json" || fail=1
"$bin" profile "docker-archive:$out/base.docker.tar" -o "$out/base.entrypoint.json"
"$corpus/run-under-profile.sh" base "$out/base.docker.tar" "$out/base.entrypoint.json" || fail=1
"$bin" profile --scope image "docker-archive:$out/base.docker.tar" -o "$out/base.json" --evidence "$out/base.evidence.json"
"$corpus/run-under-profile.sh" base "$out/base.docker.tar" "$out/base.json" || fail=1
"$corpus/battery.sh" base "$out/base.docker.tar" "$out/base.json" | tail -n 1 || fail=1
for img in javaweb nodeweb caddy memcached; do
  "$bin" profile "docker-archive:$out/$img.docker.tar" -o "$out/$img.json" --evidence "$out/$img.evidence.json"
  "$corpus/run-under-profile.sh" "$img" "$out/$img.docker.tar" "$out/$img.json" || fail=1
done
# The batteries of tests/batteries (scripts/batteries.sh builds redis and python3, and profiles
# each image in image scope: a battery runs any of the image's commands).
"$root/scripts/batteries.sh" nginx redis python3 nodeweb javaweb || fail=1
[ $fail -eq 0 ] && echo "e2e: all passed" || { echo "e2e: FAILED" >&2; exit 1; }
