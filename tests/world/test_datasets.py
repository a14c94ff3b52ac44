from collections import Counter

import numpy as np
import torch

from clipspace.world.captions import describe_scene
from clipspace.world.datasets import CaptionedDataset, ImageDataset
from clipspace.world.scene import ALL_PAIRS, HELD_OUT_PAIRS, is_held_out


def test_captioned_stream_never_names_held_out_pairs_yet_shows_them():
    """100,000 captioned training samples: the rule holds and held-out pairs appear at their natural rate."""
    ds = CaptionedDataset("train", 100_000)
    pairs, named = Counter(), 0
    for i in range(len(ds)):
        scene = ds.scene(i)
        rng = np.random.default_rng([ds.caption_seed, ds.epoch, i])
        _, said = describe_scene(scene, rng, ds.style, ds.hold_out)
        named += any(is_held_out(m.color, m.shape) for m in said.objects)
        pairs.update((o.color, o.shape) for o in scene.objects)
    assert named == 0
    assert set(pairs) == set(ALL_PAIRS)
    total = sum(pairs.values())
    for pair in HELD_OUT_PAIRS:
        assert 0.85 < pairs[pair] / total * 40 < 1.15, (pair, pairs[pair])


def test_image_stream_has_all_pairs_and_tensors():
    ds = ImageDataset("train", 3000)
    pairs = {(o.color, o.shape) for i in range(len(ds)) for o in ds.scene(i).objects}
    assert pairs == set(ALL_PAIRS)
    x = ds[0]
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1


def test_fresh_captions_each_epoch_and_same_scene():
    ds = CaptionedDataset("train", 50)
    first = [ds[i][1] for i in range(50)]
    again = [ds[i][1] for i in range(50)]
    ds.set_epoch(1)
    later = [ds[i][1] for i in range(50)]
    assert first == again  # seeded
    assert sum(a != b for a, b in zip(first, later)) > 25  # fresh captions
    assert torch.equal(ds[3][0], CaptionedDataset("train", 50)[3][0])
