"""The reference for the float benchmark: a plain numpy float64 script doing what
`hwsolve backprop SPEC --format json` does for a network of linear layers with sigmoid activations
and squared-error loss, written the way a student would: read the YAML spec, forward pass,
backward pass, dump every value as JSON.

    python bench/numpy_reference.py SPEC.yaml > out.json
"""

from __future__ import annotations

import json
import sys

import numpy as np
import yaml


def main(path: str) -> None:
    with open(path) as f:
        spec = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    steps: list[dict] = []

    def record(name: str, value: np.ndarray) -> None:
        steps.append({"name": name, "value": value.tolist()})

    z = np.asarray(spec["input"], dtype=np.float64)
    y = np.asarray(spec["target"], dtype=np.float64)
    weights = [(np.asarray(layer["W"], dtype=np.float64), np.asarray(layer["b"], dtype=np.float64))
               for layer in spec["layers"] if isinstance(layer, dict)]
    outs = [z]
    record("z[0]", z)
    for i, (W, b) in enumerate(weights, start=1):
        a = W @ z + b
        z = 1.0 / (1.0 + np.exp(-a))
        record(f"a[{i}]", a)
        record(f"z[{i}]", z)
        outs.append(z)
    loss = np.sum((z - y) ** 2)
    record("L", np.asarray(loss))
    grad_z = 2.0 * (z - y)
    for i in range(len(weights), 0, -1):
        W, _ = weights[i - 1]
        out = outs[i]
        grad_a = grad_z * out * (1.0 - out)
        record(f"dL/dz[{i}]", grad_z)
        record(f"dL/da[{i}]", grad_a)
        record(f"dL/dW[{i}]", np.outer(grad_a, outs[i - 1]))
        record(f"dL/db[{i}]", grad_a)
        grad_z = W.T @ grad_a
    record("dL/dx", grad_z)
    sys.stdout.write(json.dumps({"steps": steps}))


if __name__ == "__main__":
    main(sys.argv[1])
