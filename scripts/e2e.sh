#!/usr/bin/env bash
# e2e.sh: end-to-end checks with the real CLI, real images and real containers (podman + runc):
#   - nginx: its profile (the default, entrypoint scope) lets nginx serve the corpus workload
#     (run-under-profile PASS);
#   - base: its entrypoint-scope profile (109 syscalls: bash's) runs the corpus workload, and its
#     image-scope profile denies nothing in the image's battery of 495 commands (tests/batteries/base.sh);
#   - nginx, redis, python3, nodeweb, javaweb: their image-scope profiles deny nothing in base's battery followed by
#     the server's or interpreter's own (tests/batteries: nginx reloads and upgrades its binary,
#     redis persists, replicates and benchmarks, python3 and node run their standard libraries'
#     system calls, the JVM runs a program compiled there under every collector, and jcmd & co
#     attach to it);
#   - healthbase (base + a HEALTHCHECK): the image's health check reports healthy under its profile;
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
"$corpus/battery.sh" base "$out/base.docker.tar" "$out/base.json" "$root/tests/batteries/base.sh" | tail -n 1 || fail=1
# The image's own HEALTHCHECK runs inside the container under the profile: an image built on base
# whose check runs programs its Cmd (sleep) never runs must report healthy.
hc=$out/healthbase
mkdir -p "$hc"
podman load -q -i "$out/base.docker.tar" >/dev/null
printf 'FROM localhost/eval-base:latest\nHEALTHCHECK CMD stat / && cat /etc/os-release\nCMD ["sleep","60"]\n' >"$hc/Containerfile"
podman --runtime runc build -q --format docker -t localhost/dockergate-healthbase:latest "$hc" >/dev/null
rm -f "$hc/image.tar"
podman save -q --format docker-archive -o "$hc/image.tar" localhost/dockergate-healthbase:latest
"$bin" profile -q "docker-archive:$hc/image.tar" -o "$hc/profile.json"
podman --runtime runc rm -f -t 0 dockergate-healthbase >/dev/null 2>&1 || true
podman --runtime runc run -d --name dockergate-healthbase --network host --ulimit nofile=1024:1024 \
  --ulimit nproc=1024:1024 --security-opt "seccomp=$hc/profile.json" \
  localhost/dockergate-healthbase:latest >/dev/null
health=$(podman --runtime runc healthcheck run dockergate-healthbase 2>/dev/null || echo unhealthy)
podman --runtime runc rm -f -t 0 dockergate-healthbase >/dev/null 2>&1 || true
if [ -z "$health" ]; then echo "PASS healthbase (HEALTHCHECK healthy under the profile)"; else
  echo "FAIL healthbase: HEALTHCHECK $health under the profile"; fail=1; fi
for img in javaweb nodeweb caddy memcached; do
  "$bin" profile "docker-archive:$out/$img.docker.tar" -o "$out/$img.json" --evidence "$out/$img.evidence.json"
  "$corpus/run-under-profile.sh" "$img" "$out/$img.docker.tar" "$out/$img.json" || fail=1
done
# The batteries of tests/batteries (scripts/batteries.sh builds redis and python3, and profiles
# each image in image scope: a battery runs any of the image's commands).
"$root/scripts/batteries.sh" nginx redis python3 nodeweb javaweb || fail=1
[ $fail -eq 0 ] && echo "e2e: all passed" || { echo "e2e: FAILED" >&2; exit 1; }
