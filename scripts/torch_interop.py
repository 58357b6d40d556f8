"""PyTorch ⇄ nabla (issue 16), for tests/suite/torch_interop.rs.

usage (from the repository root):
    /tmp/torch-ref/bin/python scripts/torch_interop.py fixtures   # rewrite tests/fixtures/torch/
    /tmp/torch-ref/bin/python scripts/torch_interop.py check      # nabla's exports in PyTorch
    /tmp/torch-ref/bin/python scripts/torch_interop.py            # both

fixtures: three networks built from plain torch.nn modules (an MLP, a small CNN, an LSTM), with
PyTorch's default random weights from a fixed seed, and for each, in tests/fixtures/torch/:
  <name>.safetensors      the state dict, float32 (safetensors.torch.save_file)
  <name>.toml             the same network as a nabla spec (layer i of the spec = module i)
  <name>_io.safetensors   inputs x and PyTorch's outputs y, computed in float64 from the float32
                          weights and inputs, stored as float32
The committed files were made with torch 2.15.0 (CPU).

check: runs `cargo test --test suite write_exports_for_python -- --ignored`, which writes
every zoo model, and two spec-file networks with the layer kinds no zoo model has (RNN, stacked
recurrent layers, GELU, padded average pooling, weight-scaling dropout, …), with random weights,
exported by `nabla export --format torch` (state dict and
generated module), and nabla's outputs for fixed raw inputs; then loads each generated module,
calls load_state_dict(strict=True), runs the inputs in evaluation mode (float32) and compares its
outputs with nabla's (largest difference, and whether every row's argmax agrees).
"""
import importlib.util
import os
import re
import subprocess
import sys

import torch
from torch import nn
from safetensors.torch import load_file, save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "fixtures", "torch")


class LastState(nn.LSTM):
    """nn.LSTM (batch first) returning the last step's state, so that it fits in nn.Sequential
    and its parameters keep nn.LSTM's names (0.weight_ih_l0, …)."""

    def forward(self, x):
        return super().forward(x)[0][:, -1]


def fixture_models():
    """(name, module, nabla spec, input shape of one sample)."""
    mlp = nn.Sequential(nn.Linear(20, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
    mlp_spec = """name = "torch-mlp"
input = [20]
loss = "softmax-cross-entropy"

[[layers]]
type = "linear"
out = 16

[[layers]]
type = "tanh"

[[layers]]
type = "linear"
out = 16

[[layers]]
type = "relu"

[[layers]]
type = "linear"
out = 4
"""
    cnn = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, (3, 2), stride=(1, 2)), nn.Sigmoid(), nn.Flatten(), nn.Dropout(0.3), nn.Linear(24, 3))
    cnn_spec = """name = "torch-cnn"
input = [2, 8, 8]
loss = "softmax-cross-entropy"

[[layers]]
type = "conv2d"
out = 4
kernel = 3
padding = 1

[[layers]]
type = "relu"

[[layers]]
type = "maxpool2d"
kernel = 2

[[layers]]
type = "conv2d"
out = 6
kernel = [3, 2]
stride = [1, 2]

[[layers]]
type = "sigmoid"

[[layers]]
type = "flatten"

[[layers]]
type = "dropout"
p = 0.3

[[layers]]
type = "linear"
out = 3
"""
    lstm = nn.Sequential(LastState(3, 6, batch_first=True), nn.Linear(6, 4))
    lstm_spec = """name = "torch-lstm"
input = [5, 3]
loss = "softmax-cross-entropy"

[[layers]]
type = "lstm"
hidden = 6

[[layers]]
type = "linear"
out = 4
"""
    return [("mlp", mlp, mlp_spec, (20,)), ("cnn", cnn, cnn_spec, (2, 8, 8)), ("lstm", lstm, lstm_spec, (5, 3))]


def fixtures():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(16)
    for name, net, spec, shape in fixture_models():
        net.eval()
        state = {k: v.detach().to(torch.float32).contiguous() for k, v in net.state_dict().items()}
        x = torch.randn(4, *shape).to(torch.float32)
        with torch.no_grad():
            net64 = net.double()
            net64.load_state_dict({k: v.double() for k, v in state.items()})
            y = net64(x.double()).to(torch.float32)
        save_file(state, os.path.join(OUT, name + ".safetensors"))
        save_file({"x": x.reshape(4, -1).contiguous(), "y": y.contiguous()}, os.path.join(OUT, name + "_io.safetensors"))
        with open(os.path.join(OUT, name + ".toml"), "w") as f:
            f.write("# written by scripts/torch_interop.py: the network of %s.safetensors as a nabla spec\n" % name)
            f.write(spec)
        print("%s: %d tensors (%s), outputs %s" % (name, len(state), ", ".join(state), tuple(y.shape)))


def check():
    cmd = ["cargo", "test", "--test", "suite", "write_exports_for_python", "--", "--ignored", "--nocapture"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    found = re.search(r"^wrote (.+)$", run.stdout, re.M)
    if run.returncode != 0 or not found:
        sys.exit("cargo test failed:\n" + run.stdout + run.stderr)
    folder = found.group(1)
    worst = 0.0
    for name in sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py")):
        spec = importlib.util.spec_from_file_location("nabla_" + name.replace("-", "_"), os.path.join(folder, name + ".py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        net = module.build()
        net.load_state_dict(load_file(os.path.join(folder, name + ".safetensors")), strict=True)
        net.eval()
        io = load_file(os.path.join(folder, name + "_io.safetensors"))
        with torch.no_grad():
            y = net(io["x"])
        want = io["y"]
        diff = (y - want).abs().max().item()
        scale = want.abs().max().item()
        same = bool((y.argmax(1) == want.argmax(1)).all())
        worst = max(worst, diff / max(1.0, scale))
        print("%-16s load_state_dict(strict=True) ok, outputs %s, max |torch - nabla| = %.2e (max |y| %.3g), "
              "argmax agrees: %s" % (name, tuple(y.shape), diff, scale, same))
        if not same:
            sys.exit("%s: predictions differ" % name)
    print("torch %s; largest difference relative to max(1, |y|): %.2e" % (torch.__version__, worst))
    if worst > 1e-5:
        sys.exit("outputs differ by more than 1e-5")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("fixtures", "all"):
        fixtures()
    if what in ("check", "all"):
        check()
