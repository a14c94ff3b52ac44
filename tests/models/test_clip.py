import numpy as np
import pytest
import torch
from transformers import CLIPModel, PreTrainedTokenizerFast

from clipspace.models.clip import ClipSpace, ClipSpaceConfig
from clipspace.zoo import list_models, zoo_dir

TINY = ClipSpaceConfig(vision_hidden=32, vision_layers=1, text_hidden=32, text_layers=1, heads=2, projection_dim=16)


def test_tiny_clip_embeddings_round_trip_and_grad(tmp_path):
    torch.manual_seed(0)
    clip = ClipSpace.from_config(TINY).eval()
    x = torch.rand(3, 3, 64, 64)
    img, txt = clip.encode_image(x), clip.encode_text(["a red circle", "a qwerty star"])
    assert img.shape == (3, 16) and txt.shape == (2, 16)
    assert torch.allclose(img.norm(dim=-1), torch.ones(3), atol=1e-5)
    assert not img.requires_grad
    x.requires_grad_(True)
    clip.encode_image(x, grad=True).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # any input size goes through the stored preprocessing
    assert clip.encode_image(torch.rand(1, 3, 100, 100)).shape == (1, 16)
    clip.save_pretrained(tmp_path / "c", dtype=None)
    again = ClipSpace.from_pretrained(tmp_path / "c")
    assert torch.allclose(again.encode_text(["a red circle"]), txt[:1], atol=1e-5)
    batched = clip.encode_text(["a red circle", "a qwerty star"], batch_size=1)
    assert torch.allclose(batched, txt, atol=1e-5)


def test_hf_config_uses_our_special_ids():
    clip = ClipSpace.from_config(TINY)
    cfg = clip.model.config.text_config
    assert cfg.eos_token_id == clip.tokenizer.eos_token_id != 2
    assert cfg.bos_token_id == clip.tokenizer.bos_token_id and cfg.pad_token_id == clip.tokenizer.pad_token_id


@pytest.mark.parametrize("name", ["clip", "clip-eval", "clip-caption"])
def test_zoo_clip_loads_with_transformers(name):
    if name not in list_models():
        pytest.skip(f"zoo/{name} not trained yet")
    path = zoo_dir() / name
    assert isinstance(CLIPModel.from_pretrained(path, local_files_only=True), CLIPModel)
    assert PreTrainedTokenizerFast.from_pretrained(path, local_files_only=True).eos_token_id != 2


def test_zoo_clip_beats_chance_by_a_wide_margin():
    """40-way color-shape (chance 2.5 %) and 9-way position on 150 one-object test scenes, held-out pairs included."""
    if "clip" not in list_models():
        pytest.skip("zoo/clip not trained yet")
    from clipspace.io import load_images
    from clipspace.world import render
    from clipspace.world.captions import POSITION_PHRASES
    from clipspace.world.datasets import scene_at
    from clipspace.world.scene import ALL_PAIRS, POSITIONS

    scenes = [s for s in (scene_at("test", i) for i in range(320)) if len(s.objects) == 1][:150]
    clip = ClipSpace.from_pretrained("clip")
    images = load_images([render(s) for s in scenes])
    probs = clip.classify(images, [f"a {c} {s}" for c, s in ALL_PAIRS])
    truth = torch.tensor([ALL_PAIRS.index((s.objects[0].color, s.objects[0].shape)) for s in scenes])
    assert (probs.argmax(-1) == truth).float().mean() > 0.8
    assert torch.allclose(probs.sum(-1), torch.ones(len(scenes)), atol=1e-4)
    # position, the attribute pure contrast left at chance (1/9): "a shape in the top left", ...
    where = clip.classify(images, [f"a shape {POSITION_PHRASES[p][0]}" for p in POSITIONS])
    assert (where.argmax(-1) == torch.tensor([s.objects[0].cell for s in scenes])).float().mean() > 0.3


def test_color_swap_binding_counts_pairs_of_two_shapes():
    """zoo/clip binds colors to shapes (chance 50 %); pairs of one shape, where the swap says the same, are left out."""
    if "clip" not in list_models():
        pytest.skip("zoo/clip not trained yet")
    from dataclasses import replace

    from clipspace.io import load_images
    from clipspace.train.clip import color_swap_binding
    from clipspace.world import render
    from clipspace.world.datasets import scene_at

    scenes = [s for s in (scene_at("test", i) for i in range(200)) if len(s.objects) == 2][:60]
    clip = ClipSpace.from_pretrained("clip")
    assert color_swap_binding(clip, load_images([render(s) for s in scenes]), scenes) > 0.8
    same = [replace(s, objects=(s.objects[0], replace(s.objects[1], shape=s.objects[0].shape))) for s in scenes[:4]]
    assert np.isnan(color_swap_binding(clip, load_images([render(s) for s in same]), same))


def test_zoo_clip_reads_attributes_inside_full_captions():
    """The first object's position (chance 1/9) and size (1/2) chosen inside an otherwise full, true caption."""
    if "clip" not in list_models():
        pytest.skip("zoo/clip not trained yet")
    from clipspace.eval.clip_report import slot_choice
    from clipspace.io import load_images
    from clipspace.world import render
    from clipspace.world.datasets import scene_at
    from clipspace.world.scene import POSITIONS, SIZE_NAMES

    scenes = [s for s in (scene_at("test", i) for i in range(150)) if len(s.objects) == 1][:60]
    clip = ClipSpace.from_pretrained("clip")
    emb = clip.encode_image(load_images([render(s) for s in scenes]))
    assert slot_choice(clip, emb, scenes, "position", POSITIONS) > 0.6
    assert slot_choice(clip, emb, scenes, "size", SIZE_NAMES) > 0.8
    with pytest.raises(ValueError):  # a true value missing from the options is an error, not a silent miss
        slot_choice(clip, emb, scenes, "position", POSITIONS[1:])


def test_zoo_clip_caption_binds_positions_in_pair_captions():
    """zoo/clip-caption (GLaSS's caption judge) picks the first object's place among 9 inside a full pair caption
    well above chance (zoo/clip: about chance-level 22 % on the test split, its positions bound to the wrong object)."""
    if "clip-caption" not in list_models():
        pytest.skip("zoo/clip-caption not trained yet")
    from clipspace.eval.clip_report import slot_choice
    from clipspace.io import load_images
    from clipspace.world import render
    from clipspace.world.datasets import scene_at
    from clipspace.world.scene import POSITIONS

    scenes = [s for s in (scene_at("test", i) for i in range(200)) if len(s.objects) == 2][:60]
    clip = ClipSpace.from_pretrained("clip-caption")
    assert slot_choice(clip, clip.encode_image(load_images([render(s) for s in scenes])), scenes, "position", POSITIONS) > 0.35


def test_zoo_clip_caption_pays_for_true_detail():
    """zoo/clip-caption ranks a caption with one more true size word above the caption without it above the caption
    with the false size (detail_ranking; stage 1, before the detail loss: 56 % on val)."""
    if "clip-caption" not in list_models():
        pytest.skip("zoo/clip-caption not trained yet")
    from clipspace.io import load_images
    from clipspace.train.clip import detail_ranking
    from clipspace.world import render
    from clipspace.world.datasets import scene_at

    scenes = [scene_at("test", i) for i in range(120)]
    clip = ClipSpace.from_pretrained("clip-caption")
    assert detail_ranking(clip, clip.encode_image(load_images([render(s) for s in scenes])), scenes, "size") > 0.75
