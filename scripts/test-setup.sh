#!/usr/bin/env bash
# test-setup.sh: what the tests need beyond the build, installed only when missing (idempotent;
# run as root on a Debian machine). Called by scripts/setup.sh --tests (so by scripts/test.sh and
# CI), and fine to run by hand.
#   - the corpus harness tools (../shared/corpus/setup.sh, or $DOCKERGATE_CORPUS_TOOLS)
#   - PostgreSQL server binaries (Debian's postgresql package) for the shared-cache tests: the
#     tests start their own throw-away server from /usr/lib/postgresql/*/bin on a free local
#     port, as the postgres user when run as root; no cluster is created or started here.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
corpus=${DOCKERGATE_CORPUS_TOOLS:-$here/../../shared/corpus}
if [ -x "$corpus/setup.sh" ]; then
  "$corpus/setup.sh"
else
  echo "test-setup: corpus tools not found at $corpus (set DOCKERGATE_CORPUS_TOOLS); skipping them" >&2
fi
have_pg() { ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && id postgres >/dev/null 2>&1; }
need=()
have_pg || need+=(postgresql)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || { echo "test-setup: run as root to install: ${need[*]}" >&2; exit 1; }
  echo "test-setup: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The package's own cluster is not needed: the tests make their own.
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if have_pg; then
  echo "test-setup: PostgreSQL $(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
else
  echo "test-setup: PostgreSQL server binaries still missing: the PostgreSQL tests will be skipped" >&2
fi
