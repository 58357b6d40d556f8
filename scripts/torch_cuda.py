"""PyTorch eager on CUDA beside `nabla ... --device gpu` (scripts/gpu-check.sh): GEMM GFLOP/s and
training epochs of nabla's zoo models on the same GPU, timed the way nabla times them.

usage: python3 scripts/torch_cuda.py matmul [--sizes 1024,4096]
       python3 scripts/torch_cuda.py mlp|lenet5-modern|lstm-rows|googlenet-mnist [--epochs N]
env:   PEERS (the folder of torch_ref.py, default ../shared/peers): the MNIST loader and the mlp
       and LeNet definitions are torch_ref.py's, lstm-rows is scripts/torch_lstm.py's.
Prints one JSON line. An epoch is timed as nabla's: the training set is on the device before the
first epoch (nabla uploads it once), and the clock stops after torch.cuda.synchronize(). The
settings are those of `nabla bench mlp` (SGD η 0.1, batch 128) and of each zoo model's [train]
table (lenet5-modern: SGD η 0.05, momentum 0.9, batch 64; lstm-rows: Adam η 0.001, batch 128;
googlenet-mnist: Adam η 0.001, batch 64, its auxiliary head's loss weighted 0.3).
"""
import argparse, json, os, sys, time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("PEERS", os.path.join(HERE, "..", "..", "shared", "peers")))
sys.path.insert(0, HERE)
import torch_ref  # noqa: E402
from torch_lstm import RowLstm  # noqa: E402

nn = torch.nn


class Inception(nn.Module):
    """nabla's inception layer (nn/inception.rs): 1×1; 1×1 then 3×3; 1×1 then 5×5; 3×3 max pool
    (stride 1) then 1×1; each convolution followed by a ReLU; concatenated along the channels."""

    def __init__(self, c, n1, r3, n3, r5, n5, pool):
        super().__init__()
        relu = nn.ReLU
        self.b1 = nn.Sequential(nn.Conv2d(c, n1, 1), relu())
        self.b3 = nn.Sequential(nn.Conv2d(c, r3, 1), relu(), nn.Conv2d(r3, n3, 3, padding=1), relu())
        self.b5 = nn.Sequential(nn.Conv2d(c, r5, 1), relu(), nn.Conv2d(r5, n5, 5, padding=2), relu())
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c, pool, 1), relu())

    def forward(self, x):
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], 1)


class GoogLeNetMnist(nn.Module):
    """models/googlenet-mnist.toml: stem, inception 3a and 3b, an auxiliary head (weight 0.3),
    max pool, inception 4a, global average pool, 40% dropout, linear."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Unflatten(1, (1, 28, 28)), nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1), Inception(32, 16, 24, 32, 4, 8, 8),
                                  Inception(64, 32, 32, 48, 8, 24, 16))
        self.aux = nn.Sequential(nn.AvgPool2d(5, 3), nn.Conv2d(120, 32, 1), nn.ReLU(), nn.Flatten(),
                                 nn.Linear(512, 128), nn.ReLU(), nn.Dropout(0.7), nn.Linear(128, 10))
        self.head = nn.Sequential(nn.MaxPool2d(3, 2, 1), Inception(120, 48, 24, 52, 4, 12, 16), nn.AvgPool2d(7),
                                  nn.Flatten(), nn.Dropout(0.4), nn.Linear(128, 10))

    def forward(self, x):
        h = self.stem(x)
        return (self.head(h), self.aux(h)) if self.training else self.head(h)


class Rows(nn.Module):
    """lstm-rows on flat rows of 784 pixels: the 28 rows of a digit as a sequence."""

    def __init__(self):
        super().__init__()
        self.net = RowLstm("lstm")

    def forward(self, x):
        return self.net(x.view(-1, 28, 28))


MODELS = {  # name: (model, optimizer, η, momentum, batch)
    "mlp": (lambda: torch_ref.mlp([512, 512], 0.0), "sgd", 0.1, 0.0, 128),
    "lenet5-modern": (torch_ref.lenet, "sgd", 0.05, 0.9, 64),
    "lstm-rows": (Rows, "adam", 0.001, 0.0, 128),
    "googlenet-mnist": (GoogLeNetMnist, "adam", 0.001, 0.0, 64),
}


def train(name, epochs):
    make, optimizer, lr, momentum, batch = MODELS[name]
    dev = torch.device("cuda")
    xtr, ytr, xte, yte = (t.to(dev) for t in torch_ref.mnist())
    model = make().to(dev)
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator(device=dev).manual_seed(0)
    seconds = []
    for _ in range(epochs):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        perm = torch.randperm(len(xtr), generator=gen, device=dev)
        for i in range(0, len(xtr), batch):
            j = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            out = model(xtr[j])
            if isinstance(out, tuple):  # googlenet's auxiliary head in training
                loss = loss_fn(out[0], ytr[j]) + 0.3 * loss_fn(out[1], ytr[j])
            else:
                loss = loss_fn(out, ytr[j])
            loss.backward()
            opt.step()
        torch.cuda.synchronize()
        seconds.append(round(time.perf_counter() - t0, 4))
    model.eval()
    with torch.no_grad():
        acc = sum((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum().item() for i in range(0, len(xte), 1000))
    return {"seconds_per_epoch": seconds, "last_seconds_per_epoch": seconds[-1], "test_accuracy": acc / len(xte)}


def matmul(sizes):
    out = {}
    for n in sizes:
        x, y = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
        torch.matmul(x, y)
        torch.cuda.synchronize()
        reps = max(1, int(2e12 / (2 * n ** 3)))  # about 2 TFLOP a round
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.matmul(x, y)
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) / reps)
        out[str(n)] = round(2 * n ** 3 / sorted(times)[2] / 1e9, 1)
    return {"gflops": out}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["matmul"] + list(MODELS))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--sizes", default="1024,4096")
    a = p.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_cuda.py: PyTorch sees no CUDA device")
    torch.manual_seed(0)
    # strict f32 GEMMs, as nabla's kernel (TF32 would be a different arithmetic)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    result = matmul([int(s) for s in a.sizes.split(",")]) if a.what == "matmul" else train(a.what, a.epochs)
    result.update({"what": a.what, "torch": torch.__version__, "device": torch.cuda.get_device_name()})
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
