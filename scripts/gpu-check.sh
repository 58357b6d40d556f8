#!/usr/bin/env bash
# Issue 14's check on a GPU machine, in at most 8 minutes: build with the `gpu` feature, run the
# GPU tests, then GEMM GFLOP/s (n = 1024, 4096) and training epoch times of mlp, lenet5-modern,
# lstm-rows and googlenet-mnist with --device gpu, each beside PyTorch eager CUDA on the same GPU
# in the same run (scripts/torch_cuda.py), printing the ratios nabla / PyTorch (time: below 1,
# nabla is faster; GFLOP/s: above 1). A model with a layer the GPU path lacks is reported as "not
# on the GPU yet: <kind>" and skipped. Every step has its own timeout, cut to what is left of the
# 8 minutes; the script goes on past a failed step and exits 1 at the end if any failed.
#
# usage: scripts/gpu-check.sh
# env:   GPU_CHECK_QUICK=1  a tiny run (GEMM n = 128, 256; one epoch of 2,000 digits; no PyTorch),
#                           to try the script on a software driver (lavapipe)
#        PYTHON             the python with PyTorch + CUDA (default python3; without torch or CUDA
#                           the PyTorch side is skipped with a message)
#        PEERS              the folder of torch_ref.py (default ../shared/peers)
#        GPU_CHECK_SECONDS  the whole budget (default 480)
set -uo pipefail
cd "$(dirname "$0")/.."
budget=${GPU_CHECK_SECONDS:-480}
quick=${GPU_CHECK_QUICK:-0}
py=${PYTHON:-python3}
export PEERS=${PEERS:-../shared/peers}
nabla=${CARGO_TARGET_DIR:-target}/release/nabla
failed=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run a step for at most $1 seconds, and never past the budget
run() {
  local want=$1 left=$((budget - SECONDS))
  shift
  if ((left < 5)); then
    echo "   (skipped: the ${budget} s are spent)"
    return 124
  fi
  timeout $((want < left ? want : left)) "$@"
}
# a field of the last JSON line of stdin (a Python expression over its keys)
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print(eval(sys.argv[1], {}, d))" "$1"; }
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }

echo "== build (--release --features gpu)"
if ! run 270 cargo build --release --features gpu -q; then
  echo "FAILED: the build"
  exit 1
fi

echo "== GPU tests (cargo test --release --features gpu --test gpu)"
if run 200 cargo test --release --features gpu --test gpu -q >"$tmp/tests" 2>&1; then
  grep -E "^test result" "$tmp/tests"
else
  tail -n 30 "$tmp/tests"
  echo "FAILED: the GPU tests"
  failed=1
fi

torch=1
if [ "$quick" = 1 ]; then
  torch=0
  echo "== GPU_CHECK_QUICK=1: a tiny run, without PyTorch"
elif ! "$py" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  torch=0
  echo "== PyTorch with CUDA is not found by $py: the PyTorch side is skipped"
elif [ ! -f "$PEERS/torch_ref.py" ]; then
  torch=0
  echo "== $PEERS/torch_ref.py is missing (set PEERS): the PyTorch side is skipped"
fi

sizes=1024,4096
[ "$quick" = 1 ] && sizes=128,256
echo "== GEMM GFLOP/s, f32 (nabla: bench matmul --device gpu; PyTorch: torch.matmul, TF32 off)"
if run 90 "$nabla" bench matmul --device gpu --sizes "$sizes" >"$tmp/out" 2>"$tmp/err"; then
  n=$(field 'str(gflops)' <"$tmp/out")
  echo "   nabla   $n   on $(field device <"$tmp/out")"
else
  cat "$tmp/err"
  echo "FAILED: bench matmul --device gpu"
  failed=1
  n=""
fi
if ((torch)); then
  if t=$(run 60 "$py" scripts/torch_cuda.py matmul --sizes "$sizes" | field 'str(gflops)'); then
    echo "   PyTorch $t"
    [ -n "$n" ] && python3 -c "n, t = $n, $t; print('   nabla / PyTorch', {k: round(n[k] / t[k], 3) for k in n})"
  else
    echo "FAILED: torch_cuda.py matmul"
    failed=1
  fi
fi

epochs=2
limit=()
if [ "$quick" = 1 ]; then
  epochs=1
  limit=(--limit-train 2000)
fi
echo "== training epochs, the last of $epochs (seconds; nabla --device gpu beside PyTorch eager CUDA)"
for model in mlp lenet5-modern lstm-rows googlenet-mnist; do
  if [ "$model" = mlp ]; then
    # the benchmark MLP 784-512-512-10, SGD η 0.1, batch 128 (as torch_ref.py mlp)
    cmd=("$nabla" bench mlp --device gpu --epochs "$epochs")
    [ "$quick" = 1 ] && cmd=("$nabla" train --model mlp --device gpu --epochs 1 --lr 0.1 --batch-size 128 \
      --data data/mnist "${limit[@]}" --runs "$tmp/runs" --json)
  else
    cmd=("$nabla" train --model "$model" --device gpu --epochs "$epochs" --data data/mnist "${limit[@]}" \
      --runs "$tmp/runs" --json)
  fi
  if ! run 120 "${cmd[@]}" >"$tmp/out" 2>"$tmp/err"; then
    if grep -q "has no GPU kernel yet" "$tmp/err"; then
      kind=$(sed -n 's/.*layer [0-9]* (\([^ )]*\).*/\1/p' "$tmp/err" | head -n 1)
      echo "   $model: not on the GPU yet: ${kind:-$(tail -n 1 "$tmp/err")}"
    else
      tail -n 5 "$tmp/err"
      echo "FAILED: $model on the GPU"
      failed=1
    fi
    continue
  fi
  n=$(field 'seconds_per_epoch[-1]' <"$tmp/out")
  line="   $model: nabla $n s"
  if ((torch)); then
    if t=$(run 120 "$py" scripts/torch_cuda.py "$model" --epochs "$epochs" | field last_seconds_per_epoch); then
      line="$line   PyTorch $t s   ratio $(ratio "$n" "$t")"
    else
      line="$line   (PyTorch failed)"
      failed=1
    fi
  fi
  echo "$line"
done
echo "== done in $SECONDS s"
exit $failed
