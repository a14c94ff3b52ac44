"""Reports for generators and text-to-image methods: validity, attribute frequencies, Oracle-FID,
oracle match on the fixed prompt sets, eval-CLIP score, diversity and time."""
from __future__ import annotations

import time
from collections import Counter

import numpy as np
import torch

from ..io import image_to_tensor
from ..models.oracle import OracleReading
from ..world.datasets import scene_at
from ..world.scene import ALL_PAIRS, BACKGROUND_NAMES, POSITIONS, SIZE_NAMES
from .fid import frechet_distance, oracle_features
from .metrics import load_oracle, oracle_match
from .report import images_of_test_split


def valid_mask(reading: OracleReading, min_confidence: float = 0.9) -> torch.Tensor:
    """(B,) the oracle reads 1 or 2 objects and is confident about every decision."""
    count = (reading.present > 0.5).sum(1)
    return (count >= 1) & (count <= 2) & (reading.confidence() >= min_confidence)


def attribute_counts(descriptions: list[dict]) -> dict[str, Counter]:
    c = {"pair": Counter(), "size": Counter(), "position": Counter(), "background": Counter()}
    for d in descriptions:
        c["background"][d["background"]] += 1
        for o in d["objects"]:
            c["pair"][(o["color"], o["shape"])] += 1
            c["size"][o["size"]] += 1
            c["position"][o["position"]] += 1
    return c


def frequency_ratios(sample: Counter, data: Counter, keys) -> dict[str, float]:
    """Each key's share in the samples divided by its share in the data."""
    ns, nd = sum(sample.values()) or 1, sum(data.values()) or 1
    return {str(k): (sample[k] / ns) / max(data[k] / nd, 1e-9) for k in keys}


@torch.no_grad()
def generator_report(gen, n: int = 10_000, psi: float = 1.0, seed: int = 0, n_real: int = 5000) -> dict:
    """Validity, per-attribute frequency ratios against real scenes, Oracle-FID (with the real-vs-real floor)."""
    oracle = load_oracle()
    g = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    images = gen.sample(n, g, psi=psi)
    seconds = time.perf_counter() - t0
    reading = oracle.read(images)
    valid = valid_mask(reading)
    samples = attribute_counts([reading.describe(b) for b in range(n)])
    real_scenes = [scene_at("test", i) for i in range(n_real)]
    data = attribute_counts([
        {"background": s.background, "objects": [{"color": o.color, "shape": o.shape, "size": o.size, "position": o.position} for o in s.objects]}
        for s in real_scenes
    ])
    keys = {"pair": ALL_PAIRS, "size": SIZE_NAMES, "position": POSITIONS, "background": BACKGROUND_NAMES}
    ratios = {k: frequency_ratios(samples[k], data[k], keys[k]) for k in keys}
    real = images_of_test_split(n_real)
    half = n_real // 2
    feats_real = oracle_features(oracle, real)
    return {
        "n": n, "psi": psi, "valid": float(valid.float().mean()),
        "pairs_present": sum(samples["pair"][p] > 0 for p in ALL_PAIRS),
        "ratio_range": {k: [min(v.values()), max(v.values())] for k, v in ratios.items()},
        "within_half_to_double": {k: all(0.5 <= r <= 2 for r in v.values()) for k, v in ratios.items()},
        "oracle_fid": frechet_distance(oracle_features(oracle, images[: n_real]), feats_real),
        "oracle_fid_real_vs_real": frechet_distance(feats_real[:half], feats_real[half:]),
        "images_per_s": n / seconds,
        "diversity_feature_std": float(reading.features.std(0).mean()),
    }


def mean_pairwise_distance(x: torch.Tensor) -> float:
    if len(x) < 2:
        return 0.0
    d = torch.cdist(x.float(), x.float())
    return float(d.sum() / (len(x) * (len(x) - 1)))


@torch.no_grad()
def text_to_image_report(pipe, prompt_sets: dict[str, list[str]], num_images: int = 2, seed: int = 0, eval_clip: str = "clip-eval", **kwargs) -> dict:
    """Oracle match (seen / held-out / two-object), eval-CLIP score, diversity and seconds per image."""
    from ..models.clip import ClipSpace

    clip = ClipSpace.from_pretrained(eval_clip)
    oracle = load_oracle()
    out = {}
    for name, prompts in prompt_sets.items():
        images, texts, spread = [], [], []
        t0 = time.perf_counter()
        for i, p in enumerate(prompts):
            res = pipe(p, num_images=num_images, seed=seed + 1000 * i, **kwargs)
            x = torch.stack([image_to_tensor(im) for im in res.images])
            images.append(x)
            texts += [p] * len(x)
            spread.append(mean_pairwise_distance(oracle.read(x).features))
        seconds = (time.perf_counter() - t0) / max(len(texts), 1)
        x = torch.cat(images)
        match = oracle_match(x, texts, oracle)
        score = (clip.encode_image(x) * clip.encode_text(texts)).sum(-1)
        out[name] = {
            "oracle": {k: v for k, v in match.items() if k != "per_image"},
            "eval_clip_score": float(score.mean()), "diversity": float(np.mean(spread)), "seconds_per_image": seconds,
        }
    return out
