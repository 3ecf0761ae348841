#!/usr/bin/env bash
# setup.sh: installs what building, running and testing dockergate needs on a fresh Debian machine
# (as root), only what is missing. Idempotent.
#   - the corpus harness tools (podman, runc, skopeo, umoci, debootstrap, strace, curl, jq…)
#   - gcc and musl-tools (loader tests compile small programs), busybox-static (musl fixture)
#   - golang-go and golang-1.23-go from backports (Go fixtures, tests/fixtures/go-images.sh)
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
# Go fixtures (tests/fixtures/go-images.sh): Debian's Go (1.19 on bookworm) and a newer one from
# the distribution's backports (another function-table layout).
dpkg -s golang-go >/dev/null 2>&1 || need+=(golang-go)
newgo=()
ls /usr/lib/go-1.2[1-9]/bin/go >/dev/null 2>&1 || newgo=(golang-1.23-go)
if [ ${#need[@]} -gt 0 ] || [ ${#newgo[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "setup: run as root to install: ${need[*]} ${newgo[*]}" >&2; exit 1; }
  echo "setup: installing ${need[*]} ${newgo[*]}"
  export DEBIAN_FRONTEND=noninteractive
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [ ${#newgo[@]} -gt 0 ] && [ -n "$codename" ] &&
     ! grep -rqs -- "$codename-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # the machine's own Debian mirror, as the corpus tools find it
    mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
    mirror=${mirror:-$(sed -n 's/^deb  *\(https\{0,1\}:[^ ]*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)}
    [ -n "$mirror" ] && printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$codename" > "/etc/apt/sources.list.d/$codename-backports.sources"
  fi
  apt-get update -qq
  [ ${#need[@]} -gt 0 ] && apt-get install -y -qq "${need[@]}" >/dev/null
  [ ${#newgo[@]} -gt 0 ] && { apt-get install -y -qq -t "$codename-backports" "${newgo[@]}" >/dev/null ||
    echo "setup: warning: ${newgo[*]} not installed (the newer-Go tests are skipped)" >&2; }
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
if [ -x "$here/test-setup.sh" ] && [ "${1:-}" = --tests ]; then "$here/test-setup.sh"; fi
echo "setup: done"
