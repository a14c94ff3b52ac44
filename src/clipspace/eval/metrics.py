"""Oracle accuracy of generated images against their prompts (DESIGN.md, Evaluation).

For each (image, prompt): the prompt is parsed, the oracle reads the image, mentioned objects are
assigned to read objects (the assignment with the most correct attributes), and every mentioned
attribute is checked. *Full match* = right number of objects, every mentioned attribute right and
the relation true. Rates are reported over all prompts and separately for prompts naming a seen or a
held-out color-shape pair.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

import torch

from ..models.oracle import Oracle, OracleReading
from ..world.captions import ObjectMention, ParsedCaption, parse_caption, relation_holds
from ..world.scene import GridCell, is_held_out

ATTRIBUTES = ("color", "shape", "size", "position", "background", "relation", "count")


@dataclass
class _Read(GridCell):
    """An object as the oracle read it."""

    cell: int
    color: str
    shape: str
    size: str

    @classmethod
    def from_dict(cls, o: dict) -> "_Read":
        return cls(o["cell"], o["color"], o["shape"], o["size"])


def prompt_group(parsed: ParsedCaption) -> str:
    """'held_out' if any object names a held-out pair, 'seen' if one names a full color-shape pair, else 'other'."""
    named = [(m.color, m.shape) for m in parsed.objects if m.color and m.shape]
    if any(is_held_out(*p) for p in named):
        return "held_out"
    return "seen" if named else "other"


def _relation_true(relation: str | None, a: _Read, b: _Read) -> bool:
    return relation is None or relation_holds(relation, a, b)


def check_reading(parsed: ParsedCaption, read: dict) -> dict[str, bool]:
    """Attribute -> correct, for the attributes the prompt mentions (plus 'count'), and 'full_match'."""
    objs = [_Read.from_dict(o) for o in read["objects"]]
    mentions: list[ObjectMention] = parsed.objects
    best: dict[str, bool] | None = None
    best_score = -1
    slots = objs + [None] * len(mentions)  # None: the mention has no read object
    for perm in set(permutations(range(len(slots)), len(mentions))):
        chosen = [slots[i] for i in perm]
        res: dict[str, list[bool]] = {}
        for m, o in zip(mentions, chosen):
            for k in ("color", "shape", "size", "position"):
                want = getattr(m, k)
                if want is not None:
                    res.setdefault(k, []).append(o is not None and getattr(o, k) == want)
        flat = {k: all(v) for k, v in res.items()}
        if len(mentions) == 2 and parsed.relation is not None:
            a, b = chosen
            flat["relation"] = a is not None and b is not None and _relation_true(parsed.relation, a, b)
        score = sum(sum(v) for v in res.values()) + flat.get("relation", 0)
        if score > best_score:
            best, best_score = flat, score
    out = dict(best or {})
    if parsed.background is not None:
        out["background"] = read["background"] == parsed.background
    out["count"] = len(objs) == len(mentions)
    out["full_match"] = all(out.values())
    return out


def _summarise(rows: list[dict[str, bool]]) -> dict[str, float]:
    summary: dict[str, float] = {"n": len(rows)}
    for k in ATTRIBUTES + ("full_match",):
        vals = [r[k] for r in rows if k in r]
        if vals:
            summary[k] = sum(vals) / len(vals)
    return summary


def oracle_match(
    images: torch.Tensor, prompts: list[str], oracle: Oracle | None = None, reading: OracleReading | None = None
) -> dict:
    """Per-attribute and full-match rates of images (B, 3, 64, 64) in [0, 1] against their prompts.

    Returns {"all": {...}, "seen": {...}, "held_out": {...}, "per_image": [...]}; each summary has
    "n", the rate of each attribute the prompts mention, and "full_match".
    """
    if len(images) != len(prompts):
        raise ValueError(f"{len(images)} images but {len(prompts)} prompts")
    if reading is None:
        if oracle is None:
            oracle = load_oracle()
        reading = oracle.read(images)
    parsed = [parse_caption(p) for p in prompts]
    rows, groups = [], []
    for b, pc in enumerate(parsed):
        rows.append(check_reading(pc, reading.describe(b)))
        groups.append(prompt_group(pc))
    out = {"all": _summarise(rows)}
    for g in ("seen", "held_out"):
        out[g] = _summarise([r for r, gg in zip(rows, groups) if gg == g])
    out["per_image"] = [{"prompt": p, "group": g, **r} for p, g, r in zip(prompts, groups, rows)]
    return out


_ORACLE_CACHE: dict[str, Oracle] = {}


def load_oracle(path: str = "oracle") -> Oracle:
    """The zoo oracle (cached per path)."""
    from ..zoo import resolve_model_path

    p = str(resolve_model_path(path))
    if p not in _ORACLE_CACHE:
        _ORACLE_CACHE[p] = Oracle.from_pretrained(p)
    return _ORACLE_CACHE[p]
