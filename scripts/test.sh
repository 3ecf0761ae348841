#!/usr/bin/env bash
# test.sh: the whole test suite on a fresh machine: installs what is missing, runs every unit and
# integration test, then the end-to-end checks on real images in real containers.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/setup.sh" --tests
cargo test --workspace --release --manifest-path "$root/Cargo.toml"
"$root/scripts/e2e.sh"
