#!/usr/bin/env bash
# Side-by-side speed against PyTorch's reference script (../shared/peers/torch_ref.py), A B A B,
# in one run on this machine, printing each pair's ratio nabla / PyTorch (below 1: nabla is faster).
#
# usage: scripts/vs-torch.sh [rounds]      (PyTorch set-up: ../shared/peers/README.md)
# env:   TORCH_PY (default /tmp/torch-ref/bin/python), PEERS (default ../shared/peers),
#        MM_PAIRS (GEMM pairs per round, default 5), MLP_PAIRS (MLP epoch pairs per round, default 3),
#        NABLA (a nabla binary to measure instead of building target/release/nabla)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
mm_pairs=${MM_PAIRS:-5}
mlp_pairs=${MLP_PAIRS:-3}
py=${TORCH_PY:-/tmp/torch-ref/bin/python}
peers=${PEERS:-../shared/peers}
nabla=${NABLA:-target/release/nabla}
[ -n "${NABLA:-}" ] || cargo build --release -q
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.readlines()[-1]); print(eval(sys.argv[1], {}, d))" "$1"; }
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }

# both sides of one figure, nabla first in odd rounds and PyTorch first in even ones, so that a
# drift of the machine within a pair does not always favour the same side
pair() { # round, nabla args, python script and args, nabla field, torch field → "nabla torch"
  local n t
  if (($1 % 2)); then
    n=$($nabla $2 | field "$4"); t=$("$py" $3 | field "$5")
  else
    t=$("$py" $3 | field "$5"); n=$($nabla $2 | field "$4")
  fi
  echo "$n $t"
}
ref="$peers/torch_ref.py"
export PEERS="$peers" # for scripts/torch_lstm.py, which loads MNIST through torch_ref.py

for r in $(seq "$rounds"); do
  echo "== round $r"
  # the GEMM figures swing by 1.5× within seconds here, so they get several pairs and a median
  ratios=()
  for p in $(seq "$mm_pairs"); do
    read -r n t <<<"$(pair $((r + p)) "bench matmul" "$ref matmul" 'str(gflops).replace(" ", "")' 'str(gflops).replace(" ", "")')"
    ratios+=("$(python3 -c "n, t = $n, $t; print(round(100 * n['1024'] / t['1024']))")")
    echo "matmul GFLOP/s   nabla $n   torch $t   n=1024: ${ratios[-1]}% of torch"
  done
  echo "matmul n=1024    median $(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(((mm_pairs + 1) / 2))p")% of torch over $mm_pairs pairs"
  # three epochs each and their medians (the first epoch of either side runs partly on cold
  # cores), in several pairs, since the machine's speed drifts by 1.5× within minutes
  ratios=()
  for p in $(seq "$mlp_pairs"); do
    read -r n t <<<"$(pair $((r + p)) "bench mlp --epochs 3" "$ref mlp --epochs 3" median_seconds_per_epoch median_seconds_per_epoch)"
    ratios+=("$(ratio "$n" "$t")")
    echo "mlp s/epoch      nabla $n   torch $t   ratio ${ratios[-1]}"
  done
  echo "mlp s/epoch      median ratio $(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(((mlp_pairs + 1) / 2))p") over $mlp_pairs pairs"
  for b in 1 8; do
    read -r n t <<<"$(pair "$r" "bench steps --batch $b" "$ref steps --batch $b" us_per_step us_per_step)"
    echo "steps b=$b µs/step nabla $n   torch $t   ratio $(ratio "$n" "$t")"
  done
  read -r n t <<<"$(pair "$r" "bench lenet" "$ref lenet --epochs 1" "models['lenet5-modern']['median_seconds_per_epoch']" median_seconds_per_epoch)"
  echo "lenet s/epoch    nabla $n   torch $t   ratio $(ratio "$n" "$t")"
  # torch_ref.py has no LSTM: its reference is ours, beside this script
  read -r n t <<<"$(pair "$r" "bench lstm" scripts/torch_lstm.py "models['lstm-rows']['median_seconds_per_epoch']" median_seconds_per_epoch)"
  echo "lstm s/epoch     nabla $n   torch $t   ratio $(ratio "$n" "$t")"
done
