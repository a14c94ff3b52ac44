"""The captions a zoo CLIP is trained to rank below the truth: hard negatives (one attribute false) and detail
triplets (one attribute said truly, left unsaid, said falsely), and the re-rendered scenes used as negative images."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..world.captions import ParsedCaption, caption_matches_scene, caption_referents
from ..world.scene import (
    BACKGROUND_NAMES,
    COLOR_NAMES,
    POSITIONS,
    SHAPES,
    SIZE_NAMES,
    Scene,
    is_held_out,
)

NEG_DEFAULT = {"shape": 0.3, "color": 0.2, "swap_color": 0.12, "swap_shape": 0.08, "relation": 0.1, "size": 0.08, "position": 0.06, "background": 0.06}
_FLIP = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def _other(rng: np.random.Generator, options, current):
    choices = [o for o in options if o != current]
    return choices[int(rng.integers(len(choices)))]


def hard_negative(said: ParsedCaption, scene: Scene, rng: np.random.Generator, tries: int = 8, weights: dict | None = None) -> ParsedCaption | None:
    """The caption with one attribute changed (or a false one added) so that it is false of the scene.

    Shape and color are changed only where the caption names them; size, position and background may also be
    added where it is silent ("a red circle" -> "a red circle at the top" for a circle at the bottom), so every
    caption can have a position negative. Never names a held-out pair; None when no try gave a false caption.
    """
    weights = weights or NEG_DEFAULT
    kinds = list(weights)
    p = np.array([weights[k] for k in kinds], dtype=float)
    for _ in range(tries):
        kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
        objs = [replace(m) for m in said.objects]
        neg = ParsedCaption(objects=objs, relation=said.relation, background=said.background)
        k = int(rng.integers(len(objs)))
        if kind in ("shape", "color", "size", "position"):
            if getattr(objs[k], kind) is None and kind in ("shape", "color"):
                continue
            options = {"shape": SHAPES, "color": COLOR_NAMES, "size": SIZE_NAMES, "position": POSITIONS}[kind]
            setattr(objs[k], kind, _other(rng, options, getattr(objs[k], kind)))
        elif kind in ("swap_color", "swap_shape"):
            attr = kind[5:]
            if len(objs) < 2 or getattr(objs[0], attr) is None or getattr(objs[1], attr) is None:
                continue
            a, b = getattr(objs[0], attr), getattr(objs[1], attr)
            setattr(objs[0], attr, b)
            setattr(objs[1], attr, a)
        elif kind == "swap_position":  # the positions bound the other way round (or one moved onto the other object)
            if len(objs) < 2 or (objs[0].position is None and objs[1].position is None):
                continue
            if objs[0].position and objs[1].position:
                objs[0].position, objs[1].position = objs[1].position, objs[0].position
            else:  # the one named place is true of its own object, so the scene's other place is the other object's
                named = objs[0] if objs[0].position else objs[1]
                named.position = next(o.position for o in scene.objects if o.position != named.position)
        elif kind == "relation":
            if neg.relation not in _FLIP:
                continue
            neg.relation = _FLIP[neg.relation]
        elif kind == "background":
            neg.background = _other(rng, BACKGROUND_NAMES, neg.background)
        if any(is_held_out(m.color, m.shape) for m in objs) or caption_matches_scene(neg, scene):
            continue
        return neg
    return None


def swap_positions(scene: Scene) -> Scene:
    """The two-object scene with its objects' places (cell and centre) exchanged; still valid: the two extents keep
    their distance."""
    a, b = scene.objects
    return replace(scene, objects=(replace(a, cell=b.cell, cx=b.cx, cy=b.cy), replace(b, cell=a.cell, cx=a.cx, cy=a.cy)))


def swap_colors(scene: Scene) -> Scene:
    """The two-object scene with its objects' colors (names and drawn rgb) exchanged."""
    a, b = scene.objects
    return replace(scene, objects=(replace(a, color=b.color, rgb=b.rgb), replace(b, color=a.color, rgb=a.rgb)))


DETAIL_DEFAULT = {"size": 0.35, "position": 0.4, "color": 0.1, "shape": 0.1, "background": 0.05}
OPTIONS = {"shape": SHAPES, "color": COLOR_NAMES, "size": SIZE_NAMES, "position": POSITIONS}


def _copy(said: ParsedCaption) -> ParsedCaption:
    return ParsedCaption(objects=[replace(m) for m in said.objects], relation=said.relation, background=said.background)


def detail_choices(
    said: ParsedCaption, scene: Scene, rng: np.random.Generator, weights: dict | None = None, tries: int = 8
) -> list[ParsedCaption] | None:
    """[fuller, plain, false, ...]: `said` with one slot -- an object's size, position, color or shape, or the
    background -- named truly, left unsaid, and named with each false value in turn (every other place, size, ...,
    the other object's place included, held-out pairs left out). A captioning CLIP should rank the fuller caption
    first and the plain one above every false one. Contrast with captions of mixed detail never asks that a true
    word raise the score (measured: "a small blue star on the left on a black background" scored below the same
    without "small"), so a CLIP-guided decoder left words out; and a captioner picks a slot's value among all of
    them, not against one random lie. None when `said` is false of the scene or no try left a false value."""
    order = caption_referents(said, scene)
    if order is None:
        return None
    weights = weights or DETAIL_DEFAULT
    kinds = list(weights)
    p = np.array([weights[k] for k in kinds], dtype=float)
    for _ in range(tries):
        kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
        full, plain = _copy(said), _copy(said)
        k = int(rng.integers(len(order)))
        if kind == "background":
            full.background, plain.background = scene.background, None
            lies = [b for b in BACKGROUND_NAMES if b != scene.background]
        else:
            setattr(full.objects[k], kind, getattr(order[k], kind))
            setattr(plain.objects[k], kind, None)
            lies = [v for v in OPTIONS[kind] if v != getattr(order[k], kind)]
        if any(is_held_out(m.color, m.shape) for m in full.objects):
            continue
        falses = []
        for lie in lies:
            false = _copy(full)
            if kind == "background":
                false.background = lie
            else:
                setattr(false.objects[k], kind, lie)
            # not a held-out pair, and not true read the other way round (a color that is also the other object's)
            if not any(is_held_out(m.color, m.shape) for m in false.objects) and not caption_matches_scene(false, scene):
                falses.append(false)
        if falses:
            return [full, plain, *falses]
    return None
