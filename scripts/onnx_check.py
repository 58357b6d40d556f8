#!/usr/bin/env python3
"""Checks nabla's ONNX export with onnxruntime (issue 16): every model that
`examples/onnx_reference.rs` writes (the zoo and the export test's spec files) is checked by
`onnx.checker`, run by onnxruntime on the same raw inputs as nabla, and its outputs compared with
nabla's to |ort - nabla| <= 1e-5 * max(1, |nabla|) (the tolerance of tests/suite/onnx_export.rs).

    python3 -m venv /tmp/ort && /tmp/ort/bin/pip install onnxruntime numpy onnx
    cargo run --release --example onnx_reference -- target/onnx-reference
    /tmp/ort/bin/python scripts/onnx_check.py target/onnx-reference

Exits with 1 if any model fails to load, run or agree.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

TOLERANCE = 1e-5


def check(model_path: Path) -> tuple[bool, str]:
    reference = json.loads(model_path.with_suffix(".json").read_text())
    model = onnx.load(str(model_path))
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    x = np.asarray(reference["input"], dtype=np.float32).reshape(reference["input_shape"])
    names = [o.name for o in session.get_outputs()]
    results = dict(zip(names, session.run(None, {session.get_inputs()[0].name: x})))
    parts, ok = [], True
    for name, want in reference["outputs"].items():
        want = np.asarray(want, dtype=np.float32)
        got = results[name].reshape(-1)
        error = float(np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
        ok &= error <= TOLERANCE
        parts.append(f"{name} {error:.1e}")
    opset = model.opset_import[0].version
    ops = sorted({n.op_type for n in model.graph.node} - {"Identity"})
    return ok, f"opset {opset}, batch {x.shape[0]}, worst {', '.join(parts)}; ops: {' '.join(ops)}"


def main() -> int:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "target/onnx-reference")
    models = sorted(folder.glob("*.onnx"))
    if not models:
        print(f"{folder}: no .onnx files; run: cargo run --release --example onnx_reference -- {folder}")
        return 1
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}, tolerance {TOLERANCE:g} (relative above 1)")
    failed = 0
    for path in models:
        try:
            ok, line = check(path)
        except Exception as e:  # a model that does not load or run is a failure, reported as such
            ok, line = False, f"{type(e).__name__}: {e}"
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {path.stem:18} {line}")
    print(f"{len(models) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
