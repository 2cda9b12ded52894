#!/usr/bin/env bash
# The GPU benchmark in one run of at most 8 minutes, for a one-GPU Linux
# x86-64 machine reached only with a copy of the working tree (no network,
# no Rust toolchain): unpacks the Vulkan loader carried in .gl/, unpacks the
# release binary carried in .gpubench/ (benches/gpu/prepare.sh makes both),
# then runs `bench scan`, `bench train` at tiny/mni4mm/reference with batch
# 1/2/4/8 (a preset stops at its first failure, e.g. out of memory) and
# `bench viewer`, appending one JSON object per measurement to
# OUT/results.jsonl and a readable log to OUT/run.log.
#
# Usage: benches/gpu/run.sh OUT          on the GPU machine
#        benches/gpu/run.sh OUT --local  here, against whatever wgpu adapter
#                                        there is (lavapipe): the same steps
#                                        with the tiny preset only, batch 1
#                                        (one timed step),
#                                        a smaller scan and fewer frames
# ROIMAE_GPU_BUDGET_S (default 450; 1800 with --local) bounds the whole run
# in seconds.
set -uo pipefail
out="${1:?usage: benches/gpu/run.sh OUT [--local]}"
local_run=0
[ "${2:-}" = "--local" ] && local_run=1
root="$(cd "$(dirname "$0")/../.." && pwd)"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
results="$out/results.jsonl"
: > "$results"
start=$(date +%s)
# 450 s on the GPU machine (its command limit is 8 minutes); lavapipe
# compiles every shader on 2 CPU cores, so the local run gets 30 minutes.
if [ "$local_run" = 1 ]; then budget="${ROIMAE_GPU_BUDGET_S:-1800}"; else budget="${ROIMAE_GPU_BUDGET_S:-450}"; fi
log() { echo "[$(( $(date +%s) - start )) s] $*" | tee -a "$out/run.log"; }
left() { echo $(( budget - ( $(date +%s) - start ) )); }

# The Vulkan loader (and the NVIDIA ICD location used on the lent machines).
if [ "$local_run" = 0 ] && ! ldconfig -p | grep -q libvulkan; then
    for f in "$root"/.gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$nvidia_icd" ] && [ -z "${VK_DRIVER_FILES:-}" ] && export VK_DRIVER_FILES="$nvidia_icd"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

bin="$root/.gpubench/roimae"
if [ -f "$bin.xz" ]; then
    bin=/tmp/roimae-gpubench/roimae
    mkdir -p "$(dirname "$bin")"
    xz -dc "$root/.gpubench/roimae.xz" > "$bin" && chmod +x "$bin"
elif [ ! -x "$bin" ]; then
    echo "no benchmark binary: run benches/gpu/prepare.sh first (it writes .gpubench/roimae.xz)" >&2
    exit 2
fi
log "binary $(cat "$root/.gpubench/commit" 2>/dev/null || echo unknown), host $(uname -m), $(nproc) cores"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$out/run.log"

# Runs one measurement with what is left of the budget; its JSON lines go
# to results.jsonl, its stderr to the log. Returns the command's status.
measure() {
    local what="$1"; shift
    local t; t=$(left)
    if [ "$t" -lt 15 ]; then
        log "skipped $what: the time budget is spent"
        return 124
    fi
    local tmp; tmp=$(mktemp)
    timeout "$t" "$bin" "$@" --json > "$tmp" 2> "$tmp.err"
    local rc=$?
    cat "$tmp" >> "$results"
    if [ "$rc" = 0 ]; then
        log "ok $what"
    else
        log "FAILED $what (exit $rc): $(tail -n 1 "$tmp.err")"
    fi
    rm -f "$tmp" "$tmp.err"
    return "$rc"
}

if [ "$local_run" = 1 ]; then
    export CUBECL_AUTOTUNE_LEVEL="${CUBECL_AUTOTUNE_LEVEL:-minimal}"
    presets="tiny"; batches="1"; steps=1
    scan_args=(--windows 32 --iters 2 --scan chunked,fused,parallel)
    frames=5
else
    presets="tiny mni4mm reference"; batches="1 2 4 8"; steps=3
    scan_args=(--iters 5 --scan chunked,fused,parallel)
    frames=60
fi

failed=0
measure "bench scan" bench scan --device gpu "${scan_args[@]}" || failed=1
for preset in $presets; do
    for batch in $batches; do
        if ! measure "bench train $preset batch $batch" \
            bench train --preset "$preset" --device wgpu --batch "$batch" --steps "$steps"; then
            log "stopping $preset at batch $batch"
            [ "$batch" = 1 ] && failed=1
            break
        fi
    done
done
measure "bench viewer" bench viewer --frames "$frames" || failed=1
log "done: $(wc -l < "$results") results in $results"
exit "$failed"
