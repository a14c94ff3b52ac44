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


@torch.no_grad()
def bench_glass_caption(n: int = 8) -> dict[str, float]:
    """GLaSS image -> text seconds per image with the default settings (guided decoder + region reading), one
    image at a time over n world scenes."""
    from ..pipelines.glass import GlassPipeline
    from ..world import render, sample_scene
    from ..world.datasets import to_tensor

    pipe = GlassPipeline.from_pretrained()
    rng = np.random.default_rng(0)
    images = torch.stack([to_tensor(render(sample_scene(rng))) for _ in range(n)])
    return {"glass_caption_s_per_image": 1 / _rate(lambda: [pipe.caption(images[i : i + 1], num_captions=1) for i in range(n)], n)}


@torch.no_grad()
def bench_flow(batch: int = 64) -> dict[str, float]:
    """CLIP-Flow milliseconds per image at batch 64 (text encoding, aligner, flow, snap, synthesis, PIL images)
    beside one generator forward at the same batch (issue 7's goal: at most 1.5x), and with the outputs' CLIP
    scores, which cost more than all the rest."""
    from .. import load_pipeline

    pipe = load_pipeline("flow")
    w = pipe.generator.sample_w(batch, torch.Generator().manual_seed(0))
    flow_ms = 1000 / _rate(lambda: pipe("a red circle", num_images=batch, clip_scores=False), batch)
    scored_ms = 1000 / _rate(lambda: pipe("a red circle", num_images=batch), batch)
    gen_ms = 1000 / _rate(lambda: pipe.generator.synthesize(w), batch)
    return {"flow_ms_per_image_batch64": flow_ms, "flow_with_clip_scores_ms_per_image_batch64": scored_ms,
            "generator_ms_per_image_batch64": gen_ms, "flow_over_generator": flow_ms / gen_ms}


@torch.no_grad()
def bench_unclip(batch: int = 16) -> dict[str, float]:
    """unCLIP milliseconds per image at batch 16 with the default settings (issue 8's goal: at most 150)."""
    from .. import load_pipeline

    pipe = load_pipeline("unclip")
    return {"unclip_ms_per_image_batch16": 1000 / _rate(lambda: pipe("a red circle", num_images=batch), batch, min_time=5.0)}


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
        if "clip" in models:
            out |= bench_glass_caption()
    if {"flow", "generator", "clip"} <= set(models):
        out |= bench_flow()
    if {"prior", "decoder", "clip"} <= set(models):
        out |= bench_unclip()
    return {k: round(v, 3 if abs(v) < 10 else 1) for k, v in out.items()}
