"""CLIP zero-shot figures on the test split: color-shape pairs, attribute probes, binding, attributes read inside
full captions, detail ranking, retrieval."""
from __future__ import annotations

import numpy as np
import torch

from ..models.clip import ClipSpace
from ..train.clip import color_swap_binding, detail_ranking
from ..world.captions import (
    POSITION_PHRASES,
    CaptionStyle,
    ObjectMention,
    ParsedCaption,
    caption_scene,
    caption_text,
    relation_holds,
)
from ..world.datasets import scene_at
from ..world.scene import (
    BACKGROUND_NAMES,
    COLOR_NAMES,
    POSITIONS,
    SHAPES,
    SIZE_NAMES,
    is_held_out,
)
from .report import images_of_test_split


def _argmax_acc(clip: ClipSpace, images: torch.Tensor, labels: list[str], truth: list[int]) -> float:
    pred = (clip.encode_image(images) @ clip.encode_text(labels).T).argmax(-1)
    return float((pred == torch.tensor(truth)).float().mean())


def _full_caption(scene, first: dict) -> str:
    """The scene's caption naming size, color and shape of every object (and the relation), with the first
    object's attributes overridden by `first` (e.g. {"position": "top"})."""
    objs = list(scene.objects)
    ms = [ObjectMention(shape=o.shape, color=o.color, size=o.size) for o in objs]
    for k, v in first.items():
        setattr(ms[0], k, v)
    rel = next(r for r in ("left of", "right of", "above", "below") if relation_holds(r, *objs)) if len(objs) == 2 else None
    return caption_text(ParsedCaption(objects=ms, relation=rel), np.random.default_rng(0), CaptionStyle(p_article=1.0))


def slot_choice(clip: ClipSpace, emb: torch.Tensor, scenes: list, attr: str, options: tuple[str, ...]) -> float:
    """How often CLIP picks the first object's true `attr` among `options` inside an otherwise full, true caption:
    whether it reads the attribute where a caption puts it (a captioner can name only what its CLIP reads)."""
    right = []
    for e, sc in zip(emb, scenes):
        texts = [_full_caption(sc, {attr: o}) for o in options]
        right.append(int((clip.encode_text(texts) @ e).argmax()) == options.index(getattr(sc.objects[0], attr)))
    return float(np.mean(right))


@torch.no_grad()
def evaluate_clip(name_or_clip: str | ClipSpace = "clip", n: int = 5000) -> dict[str, float]:
    clip = ClipSpace.from_pretrained(name_or_clip) if isinstance(name_or_clip, str) else name_or_clip
    images = images_of_test_split(n)
    scenes = [scene_at("test", i) for i in range(n)]
    one = [i for i, s in enumerate(scenes) if len(s.objects) == 1]
    two = [i for i, s in enumerate(scenes) if len(s.objects) == 2]
    x1 = images[one]
    objs = [scenes[i].objects[0] for i in one]
    out: dict[str, float] = {}

    # 40-way color-shape classification, seen vs held-out pairs
    pairs = [(c, s) for c in COLOR_NAMES for s in SHAPES]
    emb = clip.encode_image(x1)
    pred = (emb @ clip.encode_text([f"a {c} {s}" for c, s in pairs]).T).argmax(-1).tolist()
    right = [pairs[p] == (o.color, o.shape) for p, o in zip(pred, objs)]
    held = [is_held_out(o.color, o.shape) for o in objs]
    out["pairs40_seen"] = float(np.mean([r for r, h in zip(right, held) if not h]))
    out["pairs40_held_out"] = float(np.mean([r for r, h in zip(right, held) if h]))

    # attribute probes on one-object images
    probes = {
        "color": ([f"a {c} shape" for c in COLOR_NAMES], [COLOR_NAMES.index(o.color) for o in objs]),
        "shape": ([f"a {s}" for s in SHAPES], [SHAPES.index(o.shape) for o in objs]),
        "size": ([f"a {z} shape" for z in SIZE_NAMES], [SIZE_NAMES.index(o.size) for o in objs]),
        "position": ([f"a shape {POSITION_PHRASES[p][0]}" for p in POSITIONS], [o.cell for o in objs]),
        "background": (
            [f"a shape on a {b} background" for b in BACKGROUND_NAMES],
            [BACKGROUND_NAMES.index(scenes[i].background) for i in one],
        ),
    }
    for attr, (labels, truth) in probes.items():
        pred = (emb @ clip.encode_text(labels).T).argmax(-1)
        out[f"probe_{attr}"] = float((pred == torch.tensor(truth)).float().mean())

    # binding: true two-object caption vs the same caption with the colors swapped (pairs of two shapes)
    out["binding_color_swap"] = color_swap_binding(clip, images, scenes)

    # attributes read inside full captions (what a captioner judged by this CLIP can name), on up to 300 images each
    x2, pairs_ = images[two[:300]], [scenes[i] for i in two[:300]]
    emb2 = clip.encode_image(x2)
    singles = [scenes[i] for i in one[:300]]
    out["caption_position"] = slot_choice(clip, emb[:300], singles, "position", POSITIONS)
    out["caption_size"] = slot_choice(clip, emb[:300], singles, "size", SIZE_NAMES)
    out["caption_position_pair"] = slot_choice(clip, emb2, pairs_, "position", POSITIONS)
    out["caption_size_pair"] = slot_choice(clip, emb2, pairs_, "size", SIZE_NAMES)
    # detail ranking: a true size / position word raises the score, a false one lowers it below saying nothing
    mixed = one[:300] + two[:300]
    for kind in ("size", "position"):
        out[f"detail_{kind}"] = detail_ranking(clip, torch.cat([emb[:300], emb2]), [scenes[i] for i in mixed], kind)

    # retrieval among 1000 test captions (one fresh caption per image, held-out pairs may be named)
    k = min(1000, n)
    rng = np.random.default_rng(0)
    caps = [caption_scene(scenes[i], rng, hold_out=False) for i in range(k)]
    sim = clip.encode_image(images[:k]) @ clip.encode_text(caps).T
    target = torch.arange(k)
    out["retrieval_i2t_r1"] = float((sim.argmax(1) == target).float().mean())
    out["retrieval_t2i_r1"] = float((sim.argmax(0) == target).float().mean())
    out["n_one_object"], out["n_two_object"] = len(one), len(two)
    return out
