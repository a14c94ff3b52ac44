"""The project's fixed prompt sets (seen one-object, held-out one-object, two-object), drawn from code.

Prompts name color and shape in full (held-out pairs included) and vary size, position and
background words, so every method is compared on the same text. They are not the only prompts
clipspace is judged on: an independent evaluation uses its own.
"""
from __future__ import annotations

import numpy as np

from ..world.captions import POSITION_PHRASES, SHAPE_WORDS, SIZE_WORDS, article_for
from ..world.scene import ALL_PAIRS, BACKGROUND_NAMES, POSITIONS, is_held_out

SEED = 20261125
DEV_SEED = 7  # dev_prompt_sets: the same kinds of prompt, drawn afresh, for choosing settings without touching SEED's


def _object_phrase(color: str, shape: str, rng: np.random.Generator, extras: bool) -> str:
    words = []
    if extras and rng.random() < 0.5:
        words.append(SIZE_WORDS[("small", "large")[int(rng.integers(2))]][0])
    words += [color, SHAPE_WORDS[shape][0]]
    text = f"{article_for(words[0])} {' '.join(words)}"
    return text


def one_object_prompts(per_seen_pair: int = 2, per_held_out_pair: int = 6, seed: int = SEED) -> dict[str, list[str]]:
    """Every color-shape pair, a bare prompt first, then ones with size/position/background words
    (held-out pairs more often, so that their rate is measured on 30 prompts, not 5)."""
    rng = np.random.default_rng(seed)
    out = {"seen": [], "held_out": []}
    for color, shape in ALL_PAIRS:
        group = "held_out" if is_held_out(color, shape) else "seen"
        for k in range(per_held_out_pair if group == "held_out" else per_seen_pair):
            text = _object_phrase(color, shape, rng, extras=k > 0)
            if k > 0 and rng.random() < 0.5:
                pos = POSITIONS[int(rng.integers(9))]
                if not (pos == "center" and "large" in text):
                    text += " " + POSITION_PHRASES[pos][0]
            if k > 0 and rng.random() < 0.5:
                text += f" on a {BACKGROUND_NAMES[int(rng.integers(3))]} background"
            out[group].append(text)
    return out


def two_object_prompts(n: int = 40, seed: int = SEED) -> list[str]:
    rng = np.random.default_rng(seed + 1)
    prompts = []
    relations = ("left of", "right of", "above", "below", "and")
    while len(prompts) < n:
        (c1, s1), (c2, s2) = (ALL_PAIRS[i] for i in rng.choice(len(ALL_PAIRS), 2, replace=False))
        if c1 == c2:
            continue
        rel = relations[int(rng.integers(len(relations)))]
        a = _object_phrase(c1, s1, rng, extras=False)
        b = _object_phrase(c2, s2, rng, extras=False)
        prompts.append(f"{a} {rel} {b}")
    return prompts


def prompt_sets(seed: int = SEED) -> dict[str, list[str]]:
    one = one_object_prompts(seed=seed)
    return {"seen": one["seen"], "held_out": one["held_out"], "two_object": two_object_prompts(seed=seed)}


def dev_prompt_sets() -> dict[str, list[str]]:
    """Prompts of the same kinds as prompt_sets() from another seed: tune settings on these, report on those."""
    return prompt_sets(DEV_SEED)
