#!/usr/bin/env bash
# check-ls-in-container.sh CORPUSDIR NAME...
#
# For each image CORPUSDIR/NAME.docker.tar: lists the ELF files that a scan inside the running
# container finds (regular files whose first 4 bytes are \x7fELF, on the container's own root
# filesystem), lists the paths `dockergate ls` prints for the archive, and compares them. Prints
# the differences, then `ls matched N/M images`. Exit 0 when every image matches.
#
# Needs podman (run with runc, as root) and a built dockergate ($DOCKERGATE, default
# target/release/dockergate of this repository). The scan uses only sh, find and od, or busybox's.
set -u
if [ $# -lt 2 ]; then
  echo "usage: $0 CORPUSDIR NAME..." >&2
  exit 2
fi
corpus=$1; shift
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dockergate=${DOCKERGATE:-$root/target/release/dockergate}
[ -x "$dockergate" ] || { echo "no dockergate at $dockergate (cargo build --release)" >&2; exit 2; }
PODMAN=(podman --runtime runc)
# As the corpus harness runs images: rlimits podman cannot raise here are set explicitly.
RUNOPTS=(--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

# The scan inside the container. -xdev keeps it on the image's root filesystem (no /proc, /sys,
# /dev, nor the files podman mounts in). Tools from busybox when the image has no find/od of its own.
read -r -d '' scan <<'SH'
if command -v find >/dev/null 2>&1 && command -v od >/dev/null 2>&1; then B=; else B="busybox "; fi
${B}find / -xdev -type f -size +3c 2>/dev/null | while IFS= read -r f; do
  case "$(${B}od -An -N4 -tx1 "$f" 2>/dev/null)" in
    *"7f 45 4c 46"*) printf '%s\n' "$f" ;;
  esac
done
SH

load_image() {
  local out
  out=$(timeout 300 "${PODMAN[@]}" load -q -i "$1" 2>&1) || { echo "podman load failed: $out" >&2; return 1; }
  echo "$out" | sed -n 's/^Loaded image[s]*(*s*)*: *//p' | head -1 | cut -d, -f1
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
matched=0; total=0
for name in "$@"; do
  total=$((total + 1))
  tar=$corpus/$name.docker.tar
  if [ ! -f "$tar" ]; then echo "$name: no $tar"; continue; fi
  img=$(load_image "$tar") || { echo "$name: cannot load"; continue; }
  [ -n "$img" ] || { echo "$name: podman load named no image"; continue; }
  if ! timeout 600 "${PODMAN[@]}" run --rm "${RUNOPTS[@]}" --entrypoint /bin/sh "$img" -c "$scan" \
      2>"$tmp/$name.err" | LC_ALL=C sort -u >"$tmp/$name.container"; then
    echo "$name: the scan in the container failed: $(head -c 300 "$tmp/$name.err")"; continue
  fi
  if ! "$dockergate" ls "docker-archive:$tar" 2>"$tmp/$name.lserr" | cut -f1 | LC_ALL=C sort -u >"$tmp/$name.ls"; then
    echo "$name: dockergate ls failed: $(head -c 300 "$tmp/$name.lserr")"; continue
  fi
  n_c=$(wc -l <"$tmp/$name.container"); n_l=$(wc -l <"$tmp/$name.ls")
  if [ "$n_c" -eq 0 ]; then echo "$name: the container scan found nothing (no sh/find/od?)"; continue; fi
  if cmp -s "$tmp/$name.container" "$tmp/$name.ls"; then
    echo "$name: match ($n_l ELF files)"
    matched=$((matched + 1))
  else
    echo "$name: MISMATCH (container $n_c, dockergate ls $n_l)"
    comm -23 "$tmp/$name.container" "$tmp/$name.ls" | head -20 | sed 's/^/  only in the container: /'
    comm -13 "$tmp/$name.container" "$tmp/$name.ls" | head -20 | sed 's/^/  only in dockergate ls: /'
  fi
done
echo "ls matched $matched/$total images"
[ "$matched" -eq "$total" ]
