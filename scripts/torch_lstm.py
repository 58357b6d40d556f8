"""PyTorch beside `nabla bench lstm`: nabla's lstm-rows (nn.LSTM(28 → 128) over the 28 rows of a
digit, the last h into Linear(128 → 10)), Adam η 0.001, batch 128, on MNIST loaded and normalised
by the peers' torch_ref.py. Prints one JSON line: seconds per training epoch and test accuracy.

usage: python scripts/torch_lstm.py [--epochs N] [--cell lstm|gru] [--bidirectional]
       (gru: nabla's gru-rows; --bidirectional: bilstm-rows, the two directions' last states, 256
       values, into Linear(256 → 10))      (env PEERS: the folder of torch_ref.py)
"""
import argparse, json, os, sys, time

import torch

sys.path.insert(0, os.environ.get("PEERS", os.path.join(os.path.dirname(__file__), "../../shared/peers")))
import torch_ref  # noqa: E402  (MNIST loading, shared with the other references)


class RowLstm(torch.nn.Module):
    def __init__(self, cell, bidirectional=False):
        super().__init__()
        self.lstm = getattr(torch.nn, cell.upper())(28, 128, batch_first=True, bidirectional=bidirectional)
        self.out = torch.nn.Linear(256 if bidirectional else 128, 10)

    def forward(self, x):
        # the last layer's final states: the forward cell's after row 28 and, bidirectional, the
        # reverse cell's after row 1 (nabla's bidirectional output, forward half first)
        _, state = self.lstm(x)
        h = state[0] if isinstance(state, tuple) else state
        return self.out(torch.cat(list(h), dim=1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--bidirectional", action="store_true")
    a = p.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    xtr, ytr, xte, yte = torch_ref.mnist()
    xtr, xte = xtr.view(-1, 28, 28), xte.view(-1, 28, 28)
    net = RowLstm(a.cell, a.bidirectional)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss = torch.nn.CrossEntropyLoss()
    seconds, accuracy = [], []
    for _ in range(a.epochs):
        order = torch.randperm(len(xtr))
        t0 = time.perf_counter()
        for i in range(0, len(xtr), 128):
            rows = order[i:i + 128]
            opt.zero_grad()
            loss(net(xtr[rows]), ytr[rows]).backward()
            opt.step()
        seconds.append(round(time.perf_counter() - t0, 3))
        with torch.no_grad():
            accuracy.append(round((net(xte).argmax(1) == yte).float().mean().item(), 4))
    median = sorted(seconds)[len(seconds) // 2]
    what = ("bi" if a.bidirectional else "") + a.cell
    print(json.dumps({"what": what, "seconds_per_epoch": seconds, "median_seconds_per_epoch": median,
                      "test_accuracy": accuracy, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
