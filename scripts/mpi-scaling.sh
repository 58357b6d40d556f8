#!/usr/bin/env bash
# Epoch time of 2 MPI ranks × 1 thread against 1 process × 2 threads on this host, alternating
# the two so that a busy machine's noise falls on both (docs/distributed.md).
# Usage: scripts/mpi-scaling.sh [rounds] [--limit-train N]   (after cargo build --release --features mpi)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
limit=${2:-12000}
bin=${NABLA:-target/release/nabla}
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
seconds() { # the first epoch's training seconds in the JSON summary on stdin's last line
    tail -n 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds_per_epoch"][0])'
}
for model in mlp lenet5-modern; do
    args=(train --model "$model" --epochs 1 --limit-train "$limit" --runs "$runs" --json)
    for r in $(seq "$rounds"); do
        one=$(RAYON_NUM_THREADS=2 "$bin" "${args[@]}" 2>/dev/null | seconds)
        two=$(mpirun --allow-run-as-root --oversubscribe -np 2 "$bin" "${args[@]}" 2>/dev/null | seconds)
        python3 -c "print(f'$model round $r: 1 process × 2 threads {float($one):.3f} s, 2 ranks × 1 thread {float($two):.3f} s, ratio {float($two)/float($one):.2f}')"
    done
done
