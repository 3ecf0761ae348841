#!/usr/bin/env bash
# setup.sh: installs what building, running and testing dockergate needs on a fresh Debian machine
# (as root), only what is missing. Idempotent.
#   - the corpus harness tools (podman, runc, skopeo, umoci, debootstrap, strace, curl, jq…)
#   - gcc and musl-tools (loader tests compile small programs), busybox-static (musl fixture)
#   - anything scripts/test-setup.sh adds (e.g. PostgreSQL for the shared-cache tests)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
corpus=${DOCKERGATE_CORPUS_TOOLS:-$here/../../shared/corpus}
[ -x "$corpus/setup.sh" ] || { echo "setup: corpus tools not found at $corpus (set DOCKERGATE_CORPUS_TOOLS)" >&2; exit 2; }
"$corpus/setup.sh"
need=()
have() { command -v "$1" >/dev/null 2>&1; }
for pair in gcc:gcc musl-gcc:musl-tools; do have "${pair%%:*}" || need+=("${pair#*:}"); done
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup: run as root to install: ${need[*]}" >&2; exit 1; }
  echo "setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
if [ -x "$here/test-setup.sh" ] && [ "${1:-}" = --tests ]; then "$here/test-setup.sh"; fi
echo "setup: done"
