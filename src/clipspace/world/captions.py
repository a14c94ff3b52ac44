"""Captions of Shapes-world scenes: templates with synonyms and optional attributes, and their parser.

`caption_scene(scene, rng)` draws a fresh caption each call; `parse_caption(text)` recovers every
attribute a caption mentions (raising `CaptionParseError` on text outside the grammar).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from .scene import (
    BACKGROUND_NAMES,
    COLOR_NAMES,
    POSITIONS,
    SHAPES,
    Scene,
    SceneObject,
    is_held_out,
)

SHAPE_WORDS = {
    "circle": ("circle", "disc"),
    "square": ("square", "box"),
    "triangle": ("triangle",),
    "diamond": ("diamond", "rhombus"),
    "star": ("star",),
}
GENERIC_NOUNS = ("shape", "object")
SIZE_WORDS = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
BACKGROUND_WORDS = {"black": ("black",), "gray": ("gray", "grey"), "white": ("white",)}
_CORNER = ("in the {}", "at the {}", "in the {} corner")
POSITION_PHRASES = {
    "top left": tuple(t.format("top left") for t in _CORNER),
    "top": ("at the top",),
    "top right": tuple(t.format("top right") for t in _CORNER),
    "left": ("on the left",),
    "center": ("in the center", "in the middle"),
    "right": ("on the right",),
    "bottom left": tuple(t.format("bottom left") for t in _CORNER),
    "bottom": ("at the bottom",),
    "bottom right": tuple(t.format("bottom right") for t in _CORNER),
}
RELATION_PHRASES = {
    "left of": ("left of", "to the left of"),
    "right of": ("right of", "to the right of"),
    "above": ("above",),
    "below": ("below",),
    "and": ("and",),
}
ARTICLES = ("a", "an", "the")

# Words the parser also accepts from users (never generated).
_EXTRA_POSITION_PHRASES = {
    "center": ("in the centre", "at the center", "at the centre"),
    **{c: (f"at the {c} corner",) for c in ("top left", "top right", "bottom left", "bottom right")},
}


@dataclass
class CaptionStyle:
    """Probabilities of mentioning each attribute when drawing a caption."""

    p_color: float = 0.85
    p_shape: float = 0.85
    p_size: float = 0.5
    p_position: float = 0.5  # one-object captions
    p_position_pair: float = 0.2  # each object of a two-object caption
    p_background: float = 0.4
    p_article: float = 0.8
    p_and: float = 0.2  # "a X and a Y" instead of a spatial relation


def article_for(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def relation_holds(relation: str, a: SceneObject, b: SceneObject) -> bool:
    """Whether `a <relation> b` is true of the grid cells."""
    if relation == "left of":
        return a.col < b.col
    if relation == "right of":
        return a.col > b.col
    if relation == "above":
        return a.row < b.row
    if relation == "below":
        return a.row > b.row
    if relation == "and":
        return True
    raise ValueError(f"unknown relation {relation!r}")


def _mention(obj: SceneObject, rng: np.random.Generator, style: CaptionStyle, p_position: float, hold_out: bool) -> "ObjectMention":
    """Which of an object's attributes a caption names."""
    use_color = rng.random() < style.p_color
    use_shape = rng.random() < style.p_shape
    if hold_out and use_color and use_shape and is_held_out(obj.color, obj.shape):
        if rng.random() < 0.5:
            use_color = False
        else:
            use_shape = False
    return ObjectMention(
        size=obj.size if rng.random() < style.p_size else None,
        color=obj.color if use_color else None,
        shape=obj.shape if use_shape else None,
        position=obj.position if rng.random() < p_position else None,
    )


def choose_mentions(
    scene: Scene, rng: np.random.Generator, style: CaptionStyle | None = None, hold_out: bool = True
) -> "ParsedCaption":
    """What a fresh caption of `scene` says: objects in caption order, a true relation, maybe the background."""
    style = style or CaptionStyle()
    objs = list(scene.objects)
    if len(objs) == 1:
        said = ParsedCaption(objects=[_mention(objs[0], rng, style, style.p_position, hold_out)])
    else:
        if rng.random() < 0.5:
            objs.reverse()
        a, b = objs
        if rng.random() < style.p_and:
            relation = "and"
        else:
            relation = _pick(rng, [r for r in ("left of", "right of", "above", "below") if relation_holds(r, a, b)])
        said = ParsedCaption(
            objects=[_mention(o, rng, style, style.p_position_pair, hold_out) for o in (a, b)], relation=relation
        )
    if rng.random() < style.p_background:
        said.background = scene.background
    return said


def object_text(m: "ObjectMention", rng: np.random.Generator, style: CaptionStyle) -> str:
    words = []
    if m.size:
        words.append(_pick(rng, SIZE_WORDS[m.size]))
    if m.color:
        words.append(m.color)
    words.append(_pick(rng, SHAPE_WORDS[m.shape]) if m.shape else _pick(rng, GENERIC_NOUNS))
    if rng.random() < style.p_article:
        words.insert(0, article_for(words[0]))
    if m.position:
        words.append(_pick(rng, POSITION_PHRASES[m.position]))
    return " ".join(words)


def caption_text(said: "ParsedCaption", rng: np.random.Generator, style: CaptionStyle | None = None) -> str:
    """Words for a structured caption, with synonyms and articles drawn from rng (parse_caption inverts it)."""
    style = style or CaptionStyle()
    text = object_text(said.objects[0], rng, style)
    if len(said.objects) == 2:
        text += f" {_pick(rng, RELATION_PHRASES[said.relation])} {object_text(said.objects[1], rng, style)}"
    if said.background:
        text += f" on a {_pick(rng, BACKGROUND_WORDS[said.background])} background"
    return text


def describe_scene(
    scene: Scene, rng: np.random.Generator, style: CaptionStyle | None = None, hold_out: bool = True
) -> tuple[str, "ParsedCaption"]:
    """A fresh caption of `scene` and exactly what it mentions (what `parse_caption` must recover)."""
    said = choose_mentions(scene, rng, style, hold_out)
    return caption_text(said, rng, style), said


def caption_scene(
    scene: Scene, rng: np.random.Generator, style: CaptionStyle | None = None, hold_out: bool = True
) -> str:
    """A fresh caption that describes every object of `scene`.

    With `hold_out` (the default, used for every training stream) no caption names a held-out
    color-shape pair together: one of the two words is left out.
    """
    return describe_scene(scene, rng, style, hold_out)[0]


def names_held_out_pair(text: str) -> bool:
    """Whether a caption names a held-out color-shape pair together in one object phrase."""
    return any(is_held_out(o.color, o.shape) for o in parse_caption(text).objects)


# ----------------------------------------------------------------------------- parsing

class CaptionParseError(ValueError):
    pass


@dataclass
class ObjectMention:
    shape: str | None = None
    color: str | None = None
    size: str | None = None
    position: str | None = None


@dataclass
class ParsedCaption:
    objects: list[ObjectMention] = field(default_factory=list)
    relation: str | None = None  # "left of" | "right of" | "above" | "below" | "and" | None
    background: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _lookup(table: dict[str, tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    return {tuple(phrase.split()): key for key, phrases in table.items() for phrase in phrases}


_SHAPE = {w: k for k, ws in SHAPE_WORDS.items() for w in ws}
_SIZE = {w: k for k, ws in SIZE_WORDS.items() for w in ws}
_COLOR = {c: c for c in COLOR_NAMES}
_BACKGROUND = {w: k for k, ws in BACKGROUND_WORDS.items() for w in ws}
_POSITION = _lookup(POSITION_PHRASES) | _lookup(_EXTRA_POSITION_PHRASES)
_RELATION = _lookup(RELATION_PHRASES)


def normalize_text(text: str) -> list[str]:
    """Lower-case, drop punctuation, split on any whitespace."""
    return re.sub(r"[^a-z0-9\s]", " ", text.lower()).split()


def _match_phrases(tokens: list[str], i: int, table: dict[tuple[str, ...], str]) -> list[tuple[str, int]]:
    """Every phrase of `table` that starts at token i, longest first."""
    hits = [(table[p], i + len(p)) for p in table if tuple(tokens[i : i + len(p)]) == p]
    return sorted(hits, key=lambda h: -h[1])


def _parse_object(tokens: list[str], i: int, text: str) -> list[tuple[ObjectMention, int]]:
    """Readings of an object phrase at token i: with each matching position phrase, then without one.

    Several readings exist because the grammar is ambiguous: "at the top left of" is "at the top" +
    "left of" as well as "at the top left" + "of".
    """
    obj = ObjectMention()
    if i < len(tokens) and tokens[i] in ARTICLES:
        i += 1
    while i < len(tokens) and (tokens[i] in _SIZE or tokens[i] in _COLOR):
        if tokens[i] in _SIZE:
            obj.size = _SIZE[tokens[i]]
        else:
            obj.color = _COLOR[tokens[i]]
        i += 1
    if i >= len(tokens):
        raise CaptionParseError(f"expected a shape noun at the end of {text!r}")
    if tokens[i] in _SHAPE:
        obj.shape = _SHAPE[tokens[i]]
    elif tokens[i] not in GENERIC_NOUNS:
        raise CaptionParseError(f"expected a shape noun, got {tokens[i]!r} in {text!r}")
    i += 1
    readings = [(replace(obj, position=pos), j) for pos, j in _match_phrases(tokens, i, _POSITION)]
    return readings + [(obj, i)]


def _parse_background(tokens: list[str], i: int) -> tuple[str | None, int]:
    if tokens[i : i + 1] == ["on"]:
        k = i + 1
        if k < len(tokens) and tokens[k] in ARTICLES:
            k += 1
        if k + 1 < len(tokens) and tokens[k] in _BACKGROUND and tokens[k + 1] == "background":
            return _BACKGROUND[tokens[k]], k + 2
    return None, i


def _parse_tail(tokens: list[str], i: int, text: str, out: ParsedCaption) -> ParsedCaption | None:
    """Parse an optional background phrase and require the end of the text."""
    background, i = _parse_background(tokens, i)
    if i != len(tokens):
        return None
    return replace(out, background=background)


def parse_caption(text: str) -> ParsedCaption:
    """Recover the attributes a caption mentions; raise CaptionParseError outside the grammar."""
    tokens = normalize_text(text)
    if not tokens:
        raise CaptionParseError("empty caption")
    furthest = 0
    for first, i in _parse_object(tokens, 0, text):
        furthest = max(furthest, i)
        done = _parse_tail(tokens, i, text, ParsedCaption(objects=[first]))
        if done is not None:
            return done
        for relation, j in _match_phrases(tokens, i, _RELATION):
            for second, k in _parse_object(tokens, j, text):
                furthest = max(furthest, k)
                done = _parse_tail(tokens, k, text, ParsedCaption(objects=[first, second], relation=relation))
                if done is not None:
                    return done
    raise CaptionParseError(f"unexpected {' '.join(tokens[furthest:])!r} in {text!r}")


def mention_matches(m: ObjectMention, obj: SceneObject) -> bool:
    return all(
        want is None or want == got
        for want, got in ((m.shape, obj.shape), (m.color, obj.color), (m.size, obj.size), (m.position, obj.position))
    )


def caption_referents(parsed: ParsedCaption, scene: Scene) -> list[SceneObject] | None:
    """The scene's objects in the caption's order (as the scene lists them, or swapped), the first reading under
    which every object mention and the relation are true; None when there is none. The background is not read."""
    objs = list(scene.objects)
    if len(parsed.objects) != len(objs):
        return None
    for order in [objs] if len(objs) == 1 else [objs, objs[::-1]]:
        if all(mention_matches(m, o) for m, o in zip(parsed.objects, order)):
            if len(order) == 1 or relation_holds(parsed.relation, order[0], order[1]):
                return order
    return None


def caption_matches_scene(parsed: ParsedCaption, scene: Scene) -> bool:
    """Whether everything the caption says is true of the scene (objects in caption order or swapped for 'and')."""
    if parsed.background is not None and parsed.background != scene.background:
        return False
    return caption_referents(parsed, scene) is not None


__all__ = [
    "SHAPE_WORDS", "SIZE_WORDS", "BACKGROUND_WORDS", "POSITION_PHRASES", "RELATION_PHRASES", "CaptionStyle",
    "caption_scene", "describe_scene", "choose_mentions", "caption_text", "parse_caption", "ParsedCaption", "ObjectMention", "CaptionParseError",
    "caption_matches_scene", "caption_referents", "relation_holds", "names_held_out_pair", "normalize_text",
    "SHAPES", "POSITIONS", "BACKGROUND_NAMES",
]
