"""Evaluation reports of zoo models on the test split: the tables the README quotes."""
from __future__ import annotations

import numpy as np
import torch

from ..models.oracle import Oracle
from ..world.datasets import cached_split, scene_at, to_tensor
from ..world.degrade import FIXED_DEGRADATIONS
from .scene_accuracy import scene_accuracy


def images_of_test_split(n: int) -> torch.Tensor:
    images = np.asarray(cached_split("test", max(n, 5000)))[:n]
    return torch.stack([to_tensor(im) for im in images])


def evaluate_oracle(oracle: Oracle, n: int = 5000, seed: int = 0) -> dict[str, dict[str, float]]:
    """Per-attribute and full-match accuracy on n test scenes, clean and under each fixed degradation."""
    x = images_of_test_split(n)
    scenes = [scene_at("test", i) for i in range(n)]
    out = {"clean": scene_accuracy(oracle.read(x), scenes)}
    for name, fn in FIXED_DEGRADATIONS.items():
        out[name] = scene_accuracy(oracle.read(fn(x, torch.Generator().manual_seed(seed))), scenes)
    return out


def markdown_table(results: dict[str, dict[str, float]], columns: list[str] | None = None) -> str:
    rows = list(results)
    columns = columns or list(next(iter(results.values())))
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for r in rows:
        lines.append(f"| {r} | " + " | ".join(f"{100 * results[r][c]:.2f}" for c in columns) + " |")
    return "\n".join(lines)
