#!/usr/bin/env bash
# Prepares the GPU benchmark bundle on the development machine: builds the
# release binary, strips and compresses it into .gpubench/ (ignored by git,
# carried to the GPU machine), and downloads the Vulkan loader as .deb files
# into .gl/ (the GPU machine has no network and may lack libvulkan).
# Usage: benches/gpu/prepare.sh        (then: benches/gpu/run.sh OUT [--local])
set -euo pipefail
cd "$(dirname "$0")/../.."
target="${CARGO_TARGET_DIR:-/var/tmp/roimae-target}"
CARGO_TARGET_DIR="$target" cargo build --release --locked --bin roimae
mkdir -p .gpubench
strip -o .gpubench/roimae "$target/release/roimae"
xz -T2 -6 -f .gpubench/roimae
git rev-parse HEAD > .gpubench/commit
ls -l .gpubench
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
    mkdir -p .gl /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    # shellcheck disable=SC2086
    apt-get $o update -qq
    # shellcheck disable=SC2086
    (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh .gpubench .gl
