#!/usr/bin/env bash
# Data-parallel training across two "hosts" (the network namespaces of scripts/netns.sh, one
# rank × one thread in each, talking TCP over a shaped veth link): per step, the backward time
# and the wait for the gradient sums after it, for each bucket size, and the epoch against one
# process of one thread at the same global batch (scaling efficiency = speed-up / 2). One bucket
# of everything (--bucket 1000000000) cannot overlap backward: the share of the communication
# hidden behind backward at bucket B is 1 − wait(B) / wait(one bucket).
# Needs root and a build with the feature: cargo build --release --features mpi.
#
# usage: scripts/mpi-hosts.sh [rounds] [limit-train]
# env:   RATES (default "10gbit 1gbit"), MODELS (default "mlp lenet5-modern"),
#        BUCKETS (default "1000000000 1048576 262144 65536"), NABLA (default target/release/nabla)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
limit=${2:-6000}
bin=$(realpath "${NABLA:-target/release/nabla}")
agent=$(realpath scripts/netns-agent.sh)
runs=$(mktemp -d)
printf '10.77.0.1 slots=1\n10.77.0.2 slots=1\n' >"$runs/hosts"
scripts/netns.sh down
scripts/netns.sh up 10gbit
trap 'scripts/netns.sh down; rm -rf "$runs"' EXIT

epoch() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readlines()[-1])["seconds_per_epoch"][0])'; }

one() { # model → the epoch's seconds of one process of one thread
    RAYON_NUM_THREADS=1 "$bin" train --model "$1" --epochs 1 --limit-train "$limit" --runs "$runs" --json 2>/dev/null | epoch
}

two() { # model bucket → "backward-ms wait-ms epoch-s" of two ranks across the namespaces
    ip netns exec nabla-h1 mpirun --allow-run-as-root -np 2 --hostfile "$runs/hosts" \
        --mca plm_rsh_agent "$agent" --mca btl tcp,self \
        --mca oob_tcp_if_include 10.77.0.0/24 --mca btl_tcp_if_include 10.77.0.0/24 -x RAYON_NUM_THREADS=1 \
        "$bin" train --model "$1" --epochs 1 --limit-train "$limit" --bucket "$2" --runs "$runs" --json \
        >"$runs/out" 2>"$runs/err" || { cat "$runs/err" >&2; exit 1; }
    local step
    step=$(sed -n 's/^per step: backward \([0-9.]*\) ms .*, then \([0-9.]*\) ms waiting.*/\1 \2/p' "$runs/err")
    echo "$step $(epoch <"$runs/out")"
}

echo "rate model bucket round backward_ms wait_ms epoch_s one_process_s efficiency"
for rate in ${RATES:-10gbit 1gbit}; do
    scripts/netns.sh rate "$rate"
    for model in ${MODELS:-mlp lenet5-modern}; do
        for r in $(seq "$rounds"); do
            alone=$(one "$model")
            for bucket in ${BUCKETS:-1000000000 1048576 262144 65536}; do
                read -r backward wait seconds <<<"$(two "$model" "$bucket")"
                eff=$(python3 -c "print(f'{$alone / $seconds / 2:.2f}')")
                echo "$rate $model $bucket $r $backward $wait $seconds $alone $eff"
            done
        done
    done
done
