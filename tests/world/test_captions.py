import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from clipspace.world import CaptionParseError, caption_matches_scene, parse_caption, sample_scene
from clipspace.world.captions import describe_scene, relation_holds


@settings(max_examples=10_000, deadline=None, derandomize=True)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_parse_recovers_every_mentioned_attribute(seed, hold_out):
    rng = np.random.default_rng(seed)
    scene = sample_scene(rng)
    text, said = describe_scene(scene, rng, hold_out=hold_out)
    parsed = parse_caption(text)
    assert parsed == said, text
    assert caption_matches_scene(parsed, scene), text
    if len(scene.objects) == 2:
        objs = {(o.color, o.shape): o for o in scene.objects}
        # the caption's first object phrase is one of the scene objects; the relation is true of them
        order = list(scene.objects)
        ok = [
            relation_holds(parsed.relation, a, b)
            and all(getattr(m, k) in (None, getattr(o, k)) for m, o in zip(parsed.objects, (a, b)) for k in ("color", "shape", "size", "position"))
            for a, b in (order, order[::-1])
        ]
        assert any(ok), text
        assert len(objs) == 2


@pytest.mark.parametrize(
    "text, expect",
    [
        ("A small red circle in the top left on a black background.", {"size": "small", "color": "red", "shape": "circle", "position": "top left"}),
        ("  an ORANGE star ", {"color": "orange", "shape": "star"}),
        ("a big blue box", {"size": "large", "color": "blue", "shape": "square"}),
        ("a purple rhombus in the middle", {"color": "purple", "shape": "diamond", "position": "center"}),
        ("red circle", {"color": "red", "shape": "circle"}),
        ("a tiny object at the bottom right corner", {"size": "small", "position": "bottom right"}),
    ],
)
def test_parse_examples(text, expect):
    parsed = parse_caption(text)
    assert len(parsed.objects) == 1
    got = {k: v for k, v in vars(parsed.objects[0]).items() if v is not None}
    assert got == expect


def test_parse_two_objects_and_ambiguous_corner():
    p = parse_caption("a yellow disc at the top left of a big purple rhombus on a grey background")
    assert p.relation == "left of" and p.background == "gray"
    assert p.objects[0].position == "top" and p.objects[1].shape == "diamond"
    p = parse_caption("a red star to the right of a cyan box")
    assert p.relation == "right of" and p.objects[1].color == "cyan"


@pytest.mark.parametrize("bad", ["", "   ", "a red", "a red banana", "a red circle with spots", "blue"])
def test_parse_rejects_text_outside_the_grammar(bad):
    with pytest.raises(CaptionParseError):
        parse_caption(bad)


def test_names_held_out_pair():
    from clipspace.world.captions import names_held_out_pair

    assert names_held_out_pair("a big purple star on the left")
    assert names_held_out_pair("a red circle above a pink disc")
    assert not names_held_out_pair("a purple shape and a star")
