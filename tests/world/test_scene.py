import numpy as np
import pytest

from clipspace.world import render, sample_scene
from clipspace.world.datasets import scene_at, scene_seed
from clipspace.world.scene import (
    BACKGROUND_NAMES, CELL_CENTERS, COLOR_NAMES, COLORS, HELD_OUT_PAIRS, SHAPES, SIZES, boxes_overlap,
)


def test_render_is_deterministic_bytes():
    for seed in range(50):
        a = render(sample_scene(np.random.default_rng(seed)))
        b = render(sample_scene(np.random.default_rng(seed)))
        assert a.dtype == np.uint8 and a.shape == (64, 64, 3)
        assert a.tobytes() == b.tobytes()


def test_scene_contract_holds():
    for seed in range(3000):
        scene = sample_scene(np.random.default_rng(seed))
        assert scene.background in BACKGROUND_NAMES
        assert len(scene.objects) in (1, 2)
        for o in scene.objects:
            assert o.shape in SHAPES and o.color in COLOR_NAMES
            lo, hi = SIZES[o.size]
            assert lo <= o.s <= hi
            assert abs(o.cx - CELL_CENTERS[o.col]) <= 3 and abs(o.cy - CELL_CENTERS[o.row]) <= 3
            assert all(abs(c - b) <= 10 for c, b in zip(o.rgb, COLORS[o.color]))
        if len(scene.objects) == 2:
            a, b = scene.objects
            assert a.cell != b.cell and a.color != b.color
            assert not boxes_overlap(a, b)
            assert not any(o.size == "large" and o.cell == 4 for o in scene.objects)


def test_both_object_counts_and_all_pairs_occur():
    counts, pairs = {1: 0, 2: 0}, set()
    for seed in range(4000):
        scene = sample_scene(np.random.default_rng(seed))
        counts[len(scene.objects)] += 1
        pairs |= {(o.color, o.shape) for o in scene.objects}
    assert counts[1] > 1000 and counts[2] > 1000
    assert len(pairs) == 40 and HELD_OUT_PAIRS <= pairs


def test_rendered_colors_and_geometry():
    # a lone small red square: the pixels inside its box carry its color, outside the background's
    from clipspace.world.scene import Scene, SceneObject

    obj = SceneObject("square", "red", (220, 40, 40), "small", 16.0, 4, 32.0, 32.0)
    img = render(Scene("black", (obj,)))
    assert (img[25:39, 25:39] == (220, 40, 40)).all()
    assert (img[:23] == 0).all() and (img[41:] == 0).all()
    # the star's inner pentagon is filled, the space between its points is not
    star = render(Scene("white", (SceneObject("star", "blue", (40, 80, 220), "large", 30.0, 4, 32.0, 32.0),)))
    assert (star[32, 32] == (40, 80, 220)).all()
    assert (star[18, 24] == 255).all()  # between the top point and the upper-left point
    tri = render(Scene("white", (SceneObject("triangle", "blue", (40, 80, 220), "large", 30.0, 4, 32.0, 32.0),)))
    assert (tri[45, 19] == (40, 80, 220)).all() and (tri[19, 19] == 255).all()  # apex up


def test_splits_are_disjoint_seed_ranges():
    assert scene_seed("train", 0) != scene_seed("val", 0) != scene_seed("test", 0)
    assert scene_at("test", 3) == scene_at("test", 3)
    with pytest.raises(ValueError):
        scene_seed("holdout", 0)
