"""Reference values from PyTorch for tests/suite/torch_reference.rs: forward outputs and gradients of
conv2d, padded max pooling, a one-layer LSTM over 3 steps and softmax cross-entropy.

usage: /tmp/torch-ref/bin/python scripts/torch_fixtures.py     (from the repository root)

It writes tests/fixtures/torch_{conv2d,max_pool2d,lstm,softmax_ce}.json. The committed files were
made with torch 2.15.0 (CPU); each file records the version that made it.

How the numbers are made: every input and parameter is drawn in float64 from a fixed seed and
rounded to float32 first, so that nabla (f32) and PyTorch see exactly the same inputs; PyTorch
then computes in float64, and outputs and gradients are stored rounded to float32. Gradients are
those of E = Σ y⊙g for a fixed random upstream gradient g (stored as `g`), or of the scalar loss
itself for cross-entropy.

Each tensor is {"shape": [...], "data": [... row-major ...]}; numbers are written with the fewest
digits that give back the same float32.

LSTM layout. PyTorch's nn.LSTM keeps weight_ih (4H × F), weight_hh (4H × H), bias_ih and bias_hh
(4H each), the 4H rows in gate blocks i, f, g, o. nabla's Var::lstm takes W (F × 4H), U (H × 4H)
and b (4H), columns in the same gate order i, f, g, o, so:
    W = weight_ihᵀ,   U = weight_hhᵀ,   b = bias_ih + bias_hh,
and ∂E/∂b = ∂E/∂bias_ih (= ∂E/∂bias_hh). Both use h_0 = c_0 = 0; the input is batch-first,
m × T × F, as nn.LSTM(batch_first=True) takes it.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")


def f32(t):
    """t rounded to float32, back in float64 (so that torch computes in f64 on f32 inputs)."""
    return t.to(torch.float32).to(torch.float64)


def randn(gen, *shape, scale=1.0):
    return f32(torch.randn(*shape, generator=gen, dtype=torch.float64) * scale)


def tensor(t):
    """A tensor as JSON text: shape and row-major data, shortest float32 digits."""
    a = t.detach().to(torch.float32).numpy().ravel()
    nums = ", ".join(np.format_float_positional(v, unique=True, trim="-") if abs(v) >= 1e-3 or v == 0
                     else np.format_float_scientific(v, unique=True, trim="-") for v in a)
    return '{"shape": %s, "data": [%s]}' % (json.dumps(list(t.shape)), nums)


def write(name, about, cases):
    """cases: list of dicts whose values are tensors (written as tensors) or plain JSON values."""
    parts = []
    for case in cases:
        fields = []
        for k, v in case.items():
            fields.append('"%s": %s' % (k, tensor(v) if isinstance(v, torch.Tensor) else json.dumps(v)))
        parts.append("    {\n      " + ",\n      ".join(fields) + "\n    }")
    text = '{\n  "about": %s,\n  "torch": %s,\n  "cases": [\n%s\n  ]\n}\n' % (
        json.dumps(about), json.dumps(torch.__version__.split("+")[0]), ",\n".join(parts))
    path = os.path.join(OUT, f"torch_{name}.json")
    with open(path, "w") as f:
        f.write(text)
    print(f"{path}: {len(text)} bytes")


def conv2d(gen):
    cases = []
    # (N, C, H, W, O, KH, KW, stride, padding): odd shapes, a strided one (nabla's narrow im2col)
    # and a stride-1 one (its wide im2col), padding unequal in rows and columns
    for n, c, h, w, o, kh, kw, stride, padding in [(2, 3, 7, 6, 4, 3, 2, (2, 1), (1, 0)),
                                                   (1, 2, 5, 4, 2, 3, 3, (1, 1), (1, 2))]:
        x = randn(gen, n, c, h, w).requires_grad_()
        wt = randn(gen, o, c, kh, kw, scale=0.5).requires_grad_()
        b = randn(gen, o).requires_grad_()
        y = F.conv2d(x, wt, b, stride=stride, padding=padding)
        g = randn(gen, *y.shape)
        dx, dw, db = torch.autograd.grad((y * g).sum(), [x, wt, b])
        cases.append({"stride": list(stride), "padding": list(padding), "x": x, "w": wt, "b": b, "y": y, "g": g,
                      "dx": dx, "dw": dw, "db": db})
    write("conv2d", "F.conv2d(x, w, b, stride, padding) and the gradients of sum(y * g)", cases)


def max_pool2d(gen):
    cases = []
    # overlapping windows with padding; the inputs are a shuffled ramp, so no window holds a tie
    for n, c, h, w, kernel, stride, padding in [(2, 2, 7, 6, (3, 3), (2, 2), (1, 1)),
                                                (1, 3, 5, 7, (2, 3), (1, 2), (1, 1))]:
        count = n * c * h * w
        ramp = torch.linspace(-2.0, 2.0, count, dtype=torch.float64)
        x = f32(ramp[torch.randperm(count, generator=gen)].reshape(n, c, h, w)).requires_grad_()
        y = F.max_pool2d(x, kernel, stride, padding)
        g = randn(gen, *y.shape)
        (dx,) = torch.autograd.grad((y * g).sum(), [x])
        cases.append({"kernel": list(kernel), "stride": list(stride), "padding": list(padding), "x": x, "y": y,
                      "g": g, "dx": dx})
    write("max_pool2d", "F.max_pool2d(x, kernel, stride, padding) and the gradient of sum(y * g)", cases)


def lstm(gen):
    m, steps, f, h = 2, 3, 3, 4
    net = torch.nn.LSTM(f, h, num_layers=1, batch_first=True).double()
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(randn(gen, *p.shape, scale=0.5))
    x = randn(gen, m, steps, f).requires_grad_()
    params = [net.weight_ih_l0, net.weight_hh_l0, net.bias_ih_l0, net.bias_hh_l0]
    ys, _ = net(x)  # m × T × H
    cases = []
    for sequence in [True, False]:
        y = ys if sequence else ys[:, -1]
        g = randn(gen, *y.shape)
        dx, dwih, dwhh, dbih, dbhh = torch.autograd.grad((y * g).sum(), [x] + params, retain_graph=True)
        assert torch.allclose(dbih, dbhh)
        cases.append({"sequence": sequence, "x": x, "w": net.weight_ih_l0.t(), "u": net.weight_hh_l0.t(),
                      "b": net.bias_ih_l0 + net.bias_hh_l0, "y": y, "g": g, "dx": dx, "dw": dwih.t(),
                      "du": dwhh.t(), "db": dbih})
    write("lstm", "nn.LSTM(3, 4, batch_first=True) over T = 3 steps from h0 = c0 = 0, in nabla's layout "
          "(W = weight_ih^T, U = weight_hh^T, b = bias_ih + bias_hh, gates i, f, g, o): every h_t "
          "(sequence) or h_T, and the gradients of sum(y * g)", cases)


def softmax_ce(gen):
    m, k = 5, 7
    cases = []
    u = randn(gen, m, k, scale=2.0)
    u[1] += 100.0  # a large shift: exp overflows f32 unless the log-softmax subtracts the row maximum
    u[3, 2] = 30.0  # one dominant logit, a loss near 0 if it is the target
    u = f32(u)
    labels = torch.tensor([6, 0, 3, 2, 5])
    soft = torch.softmax(randn(gen, m, k), dim=1)
    soft = f32(soft / soft.sum(1, keepdim=True))
    for t in [F.one_hot(labels, k).to(torch.float64), soft]:
        u = u.detach().requires_grad_()
        e = F.cross_entropy(u, t)  # mean over the m rows of −Σ_k t_k log softmax(u)_k
        (du,) = torch.autograd.grad(e, [u])
        cases.append({"u": u, "t": t, "loss": float(np.float32(e.item())), "du": du})
    write("softmax_ce", "F.cross_entropy(u, t) with one-hot and soft targets t (mean over rows) and "
          "its gradient w.r.t. the logits u", cases)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    gen = torch.Generator().manual_seed(13)
    conv2d(gen)
    max_pool2d(gen)
    lstm(gen)
    softmax_ce(gen)


if __name__ == "__main__":
    main()
