"""Figures every image method shares, read by the oracle: variations (image -> image), text-difference
edits, the spread of samples over what a prompt leaves free, and time per image.

Each function takes plain callables, so glass, flow and unclip are measured the same way:
    vary(image (1, 3, 64, 64), num_images, seed) -> list of PIL images
    edit(image (1, 3, 64, 64), source, target, seed) -> PIL image
"""
from __future__ import annotations

import math
import time
from collections import Counter

import numpy as np
import torch

from ..io import image_to_tensor
from ..world.captions import SHAPE_WORDS, article_for
from ..world.datasets import batch_at, cached_split, scene_at
from ..world.scene import BACKGROUND_NAMES, COLOR_NAMES, POSITIONS, SHAPES, SIZE_NAMES
from .generation import mean_pairwise_distance
from .metrics import load_oracle

ATTRS = ("color", "shape", "size", "position")


def one_object_images(n: int, split: str = "test", pool: int = 5000) -> tuple[torch.Tensor, list]:
    """The first n scenes of a split with exactly one object: images (n, 3, 64, 64) and their scenes."""
    idx = [i for i in range(pool) if len(scene_at(split, i).objects) == 1][:n]
    if len(idx) < n:
        raise ValueError(f"only {len(idx)} one-object scenes among the first {pool} of {split}")
    return batch_at(cached_split(split, pool), np.array(idx)), [scene_at(split, i) for i in idx]


def _truth(scene) -> dict:
    o = scene.objects[0]
    return {"color": o.color, "shape": o.shape, "size": o.size, "position": o.position, "background": scene.background}


def _read(reading, b: int) -> dict:
    d = reading.describe(b)
    o = d["objects"][0] if d["objects"] else {a: None for a in ATTRS}
    return {**{a: o[a] for a in ATTRS}, "background": d["background"], "count": len(d["objects"])}


KEPT = ("color", "shape", "size", "position", "background")  # what a variation is scored on keeping, color and shape first


def variation_report(vary, n: int = 100, num_images: int = 4, seed: int = 0) -> dict:
    """Do variations keep the input's color and shape (oracle) while their pixels differ? Size, position and
    background are reported too: CLIP sees them, so an embedding's variations should keep them as well."""
    oracle = load_oracle()
    images, scenes = one_object_images(n)
    keep, differ, spread = [], [], []
    for i in range(n):
        out = torch.stack([image_to_tensor(im) for im in vary(images[i : i + 1], num_images, seed + i)])
        reading = oracle.read(out)
        t = _truth(scenes[i])
        keep += [[_read(reading, b)[a] == t[a] for a in KEPT] for b in range(len(out))]
        differ.append(float((out - images[i]).abs().mean()))
        spread.append(mean_pairwise_distance(reading.features))
    keep = np.array(keep)
    return {"n_inputs": n, "per_input": num_images, **{f"{a}_kept": float(keep[:, i].mean()) for i, a in enumerate(KEPT)},
            "color_and_shape_kept": float(keep[:, :2].all(1).mean()), "all_kept": float(keep.all(1).mean()),
            "mean_abs_pixel_difference": float(np.mean(differ)), "diversity": float(np.mean(spread))}


def _edit_target(truth: dict, attribute: str, rng: np.random.Generator) -> tuple[str, str, dict]:
    """Source and target texts that differ in one attribute, and the attributes the result should show."""
    want = dict(truth)
    pool = COLOR_NAMES if attribute == "color" else SHAPES
    want[attribute] = str(rng.choice([v for v in pool if v != truth[attribute]]))
    text = lambda d: f"{article_for(d['color'])} {d['color']} {SHAPE_WORDS[d['shape']][0]}"  # noqa: E731
    return text(truth), text(want), want


def edit_report(edit, n: int = 100, seed: int = 0) -> dict:
    """Text-difference edits: half recolour, half reshape one-object images. `changed`: the oracle reads the
    new value of the named attribute; `kept`: it reads every other attribute (and background) as before."""
    oracle = load_oracle()
    images, scenes = one_object_images(n)
    rng = np.random.default_rng(seed)
    changed, kept, per = [], [], {"color": [], "shape": []}
    outs, wants = [], []
    for i in range(n):
        attribute = ("color", "shape")[i % 2]
        t = _truth(scenes[i])
        source, target, want = _edit_target(t, attribute, rng)
        outs.append(image_to_tensor(edit(images[i : i + 1], source, target, seed + i)))
        wants.append((attribute, t, want))
    reading = oracle.read(torch.stack(outs))
    for b, (attribute, t, want) in enumerate(wants):
        got = _read(reading, b)
        ok = got[attribute] == want[attribute]
        others = [a for a in (*ATTRS, "background") if a != attribute]
        changed.append(ok)
        per[attribute].append(ok)
        kept.append(all(got[a] == t[a] for a in others))
    return {"n": n, "changed": float(np.mean(changed)), "kept_others": float(np.mean(kept)),
            "changed_color": float(np.mean(per["color"])), "changed_shape": float(np.mean(per["shape"]))}


def free_attribute_prompts() -> list[str]:
    """Prompts that name only color and shape, leaving size, position and background free."""
    pairs = [("red", "circle"), ("blue", "star"), ("green", "square"), ("yellow", "triangle"), ("purple", "diamond")]
    return [f"{article_for(c)} {c} {SHAPE_WORDS[s][0]}" for c, s in pairs]


def _entropy(counts: Counter) -> float:
    n = sum(counts.values())
    return -sum(c / n * math.log2(c / n) for c in counts.values() if c) if n else 0.0


def diversity_entropy(generate, prompts: list[str] | None = None, num_images: int = 8, seed: int = 0) -> dict:
    """Entropy (bits) of the size, position and background the oracle reads over a prompt's samples,
    averaged over prompts that leave them free; the maximum is log2 of the number of values."""
    oracle = load_oracle()
    prompts = prompts or free_attribute_prompts()
    ent = {"size": [], "position": [], "background": []}
    for i, p in enumerate(prompts):
        x = torch.stack([image_to_tensor(im) for im in generate(p, num_images, seed + 1000 * i)])
        reading = oracle.read(x)
        rows = [_read(reading, b) for b in range(len(x))]
        for a in ent:
            ent[a].append(_entropy(Counter(r[a] for r in rows if r[a] is not None)))
    out = {f"{a}_bits": float(np.mean(v)) for a, v in ent.items()}
    out |= {"max_bits": {"size": math.log2(len(SIZE_NAMES)), "position": math.log2(len(POSITIONS)), "background": math.log2(len(BACKGROUND_NAMES))},
            "prompts": len(prompts), "per_prompt": num_images}
    return out


def seconds_per_image(fn, num_images: int, repeats: int = 3) -> float:
    """Median wall time of fn() (which makes num_images images) per image, after a warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / num_images
