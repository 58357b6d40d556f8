#!/usr/bin/env bash
# Side-by-side speed against PyTorch's reference script (../shared/peers/torch_ref.py), A B A B,
# in one run on this machine, printing each pair's ratio nabla / PyTorch (below 1: nabla is faster).
#
# usage: scripts/vs-torch.sh [rounds]      (PyTorch set-up: ../shared/peers/README.md)
# env:   TORCH_PY (default /tmp/torch-ref/bin/python), PEERS (default ../shared/peers)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
py=${TORCH_PY:-/tmp/torch-ref/bin/python}
peers=${PEERS:-../shared/peers}
cargo build --release -q
nabla=target/release/nabla
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.readlines()[-1]); print(eval(sys.argv[1], {}, d))" "$1"; }
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }

for r in $(seq "$rounds"); do
  echo "== round $r"
  n=$($nabla bench matmul | field 'gflops'); t=$("$py" "$peers/torch_ref.py" matmul | field 'gflops')
  echo "matmul GFLOP/s   nabla $n   torch $t"
  n=$($nabla bench mlp | field 'median_seconds_per_epoch')
  t=$("$py" "$peers/torch_ref.py" mlp --epochs 1 | field 'median_seconds_per_epoch')
  echo "mlp s/epoch      nabla $n   torch $t   ratio $(ratio "$n" "$t")"
  for b in 1 8; do
    n=$($nabla bench steps --batch "$b" | field 'us_per_step')
    t=$("$py" "$peers/torch_ref.py" steps --batch "$b" | field 'us_per_step')
    echo "steps b=$b µs/step nabla $n   torch $t   ratio $(ratio "$n" "$t")"
  done
  {
    n=$($nabla bench lenet | field "models['lenet5-modern']['median_seconds_per_epoch']")
    t=$("$py" "$peers/torch_ref.py" lenet --epochs 1 | field 'median_seconds_per_epoch')
    echo "lenet s/epoch    nabla $n   torch $t   ratio $(ratio "$n" "$t")"
  }
done
