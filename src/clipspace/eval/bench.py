"""`clipspace bench`: throughput figures of the world and the zoo models on this machine."""
from __future__ import annotations

import time

import numpy as np
import torch


def _rate(fn, n_items: int, min_time: float = 2.0) -> float:
    fn()  # warm-up
    t0, reps = time.perf_counter(), 0
    while time.perf_counter() - t0 < min_time:
        fn()
        reps += 1
    return n_items * reps / (time.perf_counter() - t0)


def bench_world(n: int = 500) -> dict[str, float]:
    """Scenes sampled + rendered per second on one core."""
    from ..world import render, sample_scene

    def go():
        rng = np.random.default_rng(0)
        for _ in range(n):
            render(sample_scene(rng))

    return {"world_render_scenes_per_s_1core": _rate(go, n)}


def bench_oracle(batch: int = 256) -> dict[str, float]:
    from .metrics import load_oracle

    oracle = load_oracle()
    x = torch.rand(batch, 3, 64, 64)
    return {"oracle_images_per_s": _rate(lambda: oracle.read(x), batch)}


def bench_clip(name: str = "clip", batch: int = 256) -> dict[str, float]:
    from ..models.clip import ClipSpace

    clip = ClipSpace.from_pretrained(name)
    x = torch.rand(batch, 3, 64, 64)
    texts = ["a small red circle in the top left on a black background"] * batch
    return {
        f"{name}_encode_images_per_s": _rate(lambda: clip.encode_image(x), batch),
        f"{name}_encode_texts_per_s": _rate(lambda: clip.encode_text(texts), batch),
    }


def run_bench(threads: int = 2) -> dict[str, float]:
    from ..zoo import list_models

    torch.set_num_threads(1)
    out = bench_world()
    torch.set_num_threads(threads)
    models = list_models()
    if "oracle" in models:
        out |= bench_oracle()
    for name in ("clip", "clip-eval"):
        if name in models:
            out |= bench_clip(name)
    return {k: round(v, 1) for k, v in out.items()}
