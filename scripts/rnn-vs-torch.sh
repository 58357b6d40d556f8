#!/usr/bin/env bash
# The recurrent zoo models beside PyTorch, one epoch each, alternating (nabla first in odd pairs,
# PyTorch first in even ones): lstm-rows (`nabla bench lstm` / torch_lstm.py --cell lstm),
# gru-rows (`bench gru` / --cell gru), bilstm-rows (`train --model bilstm-rows`, constant η, /
# --bidirectional). Prints each pair's seconds (and the bidirectional nets' test accuracy).
#
# usage: scripts/rnn-vs-torch.sh        env: SPECS (default "lstm:1 lstm:2 lstm:3 gru:1 gru:2
#        bilstm:1 bilstm:2"), NABLA (default target/release/nabla), TORCH_PY, PEERS
set -euo pipefail
cd "$(dirname "$0")/.."
n=${NABLA:-target/release/nabla}
py=${TORCH_PY:-/tmp/torch-ref/bin/python}
export PEERS=${PEERS:-../shared/peers}
field() { python3 -c "import json,sys; d=json.loads(sys.stdin.readlines()[-1]); print(eval(sys.argv[1], {}, d))" "$1"; }
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
last='(test_accuracy[-1] if isinstance(test_accuracy, list) else test_accuracy)'
nabla() {
    case $1 in
    lstm) "$n" bench lstm | field "models['lstm-rows']['median_seconds_per_epoch']" ;;
    gru) "$n" bench gru | field "models['gru-rows']['median_seconds_per_epoch']" ;;
    bilstm) "$n" train --model bilstm-rows --epochs 1 --schedule constant --runs "$runs" --json 2>/dev/null |
        field "f'{seconds_per_epoch[0]:.3f} acc {$last}'" ;;
    esac
}
torch() {
    case $1 in
    lstm | gru) "$py" scripts/torch_lstm.py --cell "$1" | field median_seconds_per_epoch ;;
    bilstm) "$py" scripts/torch_lstm.py --bidirectional | field "f'{median_seconds_per_epoch:.3f} acc {test_accuracy}'" ;;
    esac
}
for spec in ${SPECS:-lstm:1 lstm:2 lstm:3 gru:1 gru:2 bilstm:1 bilstm:2}; do
    m=${spec%:*} r=${spec#*:}
    if ((r % 2)); then a=$(nabla "$m"); b=$(torch "$m"); else b=$(torch "$m"); a=$(nabla "$m"); fi
    echo "$m pair $r (load $(cut -d' ' -f1 /proc/loadavg)): nabla $a   torch $b"
done
