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


@torch.no_grad()
def bench_generator(batch: int = 64) -> dict[str, float]:
    """Unconditional samples per second (mapping + synthesis) at batch 64, and critic scores per second."""
    from ..models.critic import Critic
    from ..models.generator import Generator
    from ..zoo import list_models, resolve_model_path

    gen = Generator.from_pretrained(resolve_model_path("generator")).eval()
    g = torch.Generator().manual_seed(0)
    out = {"generator_images_per_s_batch64": _rate(lambda: gen.sample(batch, g), batch)}
    if "critic" in list_models():
        critic = Critic.from_pretrained(resolve_model_path("critic")).eval()
        x = gen.sample(batch, g)
        out["critic_scores_per_s_batch64"] = _rate(lambda: critic(x), batch)
    return out


def bench_caption_lm(n: int = 64) -> dict[str, float]:
    from ..models.caption_lm import CaptionLM
    from ..zoo import resolve_model_path

    lm = CaptionLM.from_pretrained(resolve_model_path("caption-lm")).eval()
    g = torch.Generator().manual_seed(0)
    return {"caption_lm_captions_per_s_batch64": _rate(lambda: lm.sample(n, generator=g), n)}


def bench_glass() -> dict[str, float]:
    """GLaSS's search overhead over raw generator + CLIP forwards (goal <= 1.10) and seconds per search."""
    from ..pipelines.glass import GlassPipeline
    from .glass_report import search_overhead

    r = search_overhead(GlassPipeline.from_pretrained())
    return {"glass_search_overhead": r["overhead"], "glass_seconds_per_search_24x32": r["search_seconds"]}


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
    if "generator" in models:
        out |= bench_generator()
        if "clip" in models:
            out |= bench_glass()
    if "caption-lm" in models:
        out |= bench_caption_lm()
    return {k: round(v, 3 if abs(v) < 10 else 1) for k, v in out.items()}
