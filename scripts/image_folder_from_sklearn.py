"""Writes image folders for `nabla train --data DIR` and scores two baselines on the same split.

    python3 -m venv /tmp/skl-img && /tmp/skl-img/bin/pip install scikit-learn pillow
    /tmp/skl-img/bin/python scripts/image_folder_from_sklearn.py digits OUT_DIR
    /tmp/skl-img/bin/python scripts/image_folder_from_sklearn.py mnist-test OUT_DIR [--count N]

`digits`: scikit-learn's bundled 8x8 handwritten digits (1,797 images, shipped inside the package,
no download), pixels 0-16 scaled to 0-255. `mnist-test`: the first N images of the bundled MNIST
test set (data/mnist/t10k-*), read from the IDX files.

Each image becomes OUT_DIR/<split>/<class>/<index>.png, with <split> `train` and `test` (a
seeded 80/20 split, stratified by class), so that nabla trains on OUT_DIR/train with
`--test-split 0` ... or on the whole of OUT_DIR/all. It prints, as JSON, the test accuracy of a
linear baseline (logistic regression) and of scikit-learn's MLPClassifier on that split, fitted
on pixels scaled to [0, 1].
"""

import argparse
import gzip
import json
import os
import struct

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier


def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)
    return images, d.target


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    ndims = data[3]
    dims = struct.unpack(">" + "I" * ndims, data[4 : 4 + 4 * ndims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def mnist_test(count):
    root = os.path.join(os.path.dirname(__file__), "..", "data", "mnist")

    def find(kind):
        for name in os.listdir(root):
            if name.startswith("t10k-" + kind):
                return os.path.join(root, name)
        raise SystemExit(f"no t10k-{kind} file in {root}")

    return read_idx(find("images"))[:count], read_idx(find("labels"))[:count]


def write(images, labels, indices, out):
    for i in indices:
        folder = os.path.join(out, str(labels[i]))
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(images[i], mode="L").save(os.path.join(folder, f"{i:05d}.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", choices=["digits", "mnist-test"])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=2000, help="mnist-test: how many images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images, labels = digits() if args.source == "digits" else mnist_test(args.count)
    index = np.arange(len(labels))
    train, test = train_test_split(index, test_size=0.2, random_state=args.seed, stratify=labels)
    write(images, labels, train, os.path.join(args.out, "train"))
    write(images, labels, test, os.path.join(args.out, "test"))
    write(images, labels, index, os.path.join(args.out, "all"))

    x = images.reshape(len(labels), -1) / 255.0
    linear = LogisticRegression(max_iter=2000).fit(x[train], labels[train])
    mlp = MLPClassifier(hidden_layer_sizes=(128,), max_iter=500, random_state=args.seed).fit(x[train], labels[train])
    print(
        json.dumps(
            {
                "source": args.source,
                "train": len(train),
                "test": len(test),
                "linear_test_accuracy": linear.score(x[test], labels[test]),
                "mlp_test_accuracy": mlp.score(x[test], labels[test]),
            }
        )
    )


if __name__ == "__main__":
    main()
