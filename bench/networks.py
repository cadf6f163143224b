"""Network specs for the benchmarks, generated with a fixed seed (nothing to download, nothing stored).

    python bench/networks.py sigmoid512 OUT.yaml   # 3 linear+sigmoid layers, width 512 (float path)
    python bench/networks.py mnist OUT.yaml        # 784-128-10: ReLU, then softmax and cross-entropy
    python bench/networks.py deep_relu OUT.yaml    # 32 linear+ReLU layers of width 16, every value exact

Numbers are short decimals (0.25, -0.07): rationals for hwsolve, floats for the numpy reference.
"""

from __future__ import annotations

import random
import sys

import yaml


def _row(rng: random.Random, n: int, scale: int) -> list[float]:
    return [rng.randint(-scale, scale) / 100 for _ in range(n)]


def _linear(rng: random.Random, n_in: int, n_out: int, scale: int) -> dict:
    return {"type": "linear", "W": [_row(rng, n_in, scale) for _ in range(n_out)], "b": _row(rng, n_out, scale)}


def sigmoid512(width: int = 512, depth: int = 3) -> dict:
    rng = random.Random(512)
    layers: list = []
    for _ in range(depth):
        layers += [_linear(rng, width, width, 10), "sigmoid"]
    return {"hwsolve": 1, "kind": "network", "title": f"{depth}-layer sigmoid network, width {width}",
            "input": _row(rng, width, 100), "target": _row(rng, width, 100), "layers": layers,
            "loss": "squared_error"}


def mnist() -> dict:
    rng = random.Random(784)
    pixels = [rng.randint(0, 100) / 100 for _ in range(784)]  # an image's intensities in [0, 1]
    return {"hwsolve": 1, "kind": "network", "title": "784-128-10 softmax network (MNIST-shaped)",
            "input": pixels, "target": {"class": 3},
            "layers": [_linear(rng, 784, 128, 5), "relu", _linear(rng, 128, 10, 20), "softmax"],
            "loss": "cross_entropy"}


def deep_relu(depth: int = 32, width: int = 16) -> dict:
    rng = random.Random(32)
    layers: list = []
    for _ in range(depth):
        # quarters in [-0.5, 0.5]: values neither vanish nor explode over 32 layers, all exact
        layers += [{"type": "linear", "W": [[rng.randint(-2, 2) / 4 for _ in range(width)] for _ in range(width)],
                    "b": [rng.randint(-2, 2) / 4 for _ in range(width)]}, "relu"]
    return {"hwsolve": 1, "kind": "network", "title": f"exact ReLU network, depth {depth}, width {width}",
            "input": [rng.randint(-4, 4) for _ in range(width)], "target": [rng.randint(-4, 4) for _ in range(width)],
            "layers": layers, "loss": "squared_error"}


SPECS = {"sigmoid512": sigmoid512, "mnist": mnist, "deep_relu": deep_relu}


def write(kind: str, path: str) -> None:
    with open(path, "w") as f:
        yaml.dump(SPECS[kind](), f, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), default_flow_style=None,
                  width=1 << 30, sort_keys=False)


if __name__ == "__main__":
    write(sys.argv[1], sys.argv[2])
