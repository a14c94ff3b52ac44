"""Trained-zoo checks of the generator and the methods: each runs once its models are in zoo/ (and CI then
runs it on every clone); the bars here are margins above chance, the issue bars are in the README's tables."""
import numpy as np
import pytest
import torch

from clipspace import list_models
from clipspace.eval.generation import valid_mask
from clipspace.eval.metrics import load_oracle
from clipspace.eval.method_report import one_object_images
from clipspace.io import image_to_tensor


def _need(*names):
    missing = [n for n in names if n not in list_models()]
    if missing:
        pytest.skip(f"zoo lacks {', '.join(missing)}")


def _color_shape(x):
    reading = load_oracle().read(x)
    out = []
    for b in range(len(x)):
        objs = reading.describe(b)["objects"]
        out.append((objs[0]["color"], objs[0]["shape"]) if objs else (None, None))
    return out


def test_zoo_generator_samples_are_mostly_valid_scenes():
    _need("generator")
    from clipspace.models.generator import Generator
    from clipspace.zoo import resolve_model_path

    gen = Generator.from_pretrained(resolve_model_path("generator"))
    x = gen.sample(256, torch.Generator().manual_seed(0))
    assert x.shape == (256, 3, 64, 64) and 0 <= x.min() and x.max() <= 1
    assert valid_mask(load_oracle().read(x)).float().mean() > 0.8


def test_zoo_generator_encoder_inverts_real_images():
    _need("generator")
    from clipspace.eval.scene_accuracy import scene_accuracy
    from clipspace.models.generator import Generator
    from clipspace.world.datasets import batch_at, cached_split, scene_at
    from clipspace.zoo import resolve_model_path

    gen = Generator.from_pretrained(resolve_model_path("generator"))
    x = batch_at(cached_split("test", 64), np.arange(64))
    with torch.no_grad():
        acc = scene_accuracy(load_oracle().read(gen.synthesize(gen.encode(x))), [scene_at("test", i) for i in range(64)])
    assert acc["full_match"] > 0.9  # chance is far below 1 %


def test_zoo_glass_image_prompt_finds_an_image_the_oracle_reads_like_the_target():
    _need("generator", "clip")
    from clipspace import load_pipeline

    pipe = load_pipeline("glass")
    x, scenes = one_object_images(3)
    found = torch.stack([image_to_tensor(pipe(image=x[i : i + 1], seed=i).images[0]) for i in range(3)])
    truth = [(s.objects[0].color, s.objects[0].shape) for s in scenes]
    assert sum(a == b for a, b in zip(_color_shape(found), truth)) >= 2


def test_zoo_glass_captions_are_true_of_their_scenes():
    """GLaSS image -> text with the default settings (guided decoder, region reading): whole captions true of the
    scene, one mention per object and every word right (96.2 % on 500 test images; a caption true by chance is rare)."""
    _need("caption-lm", "clip-caption")
    from clipspace import load_pipeline
    from clipspace.eval.glass_report import caption_attributes
    from clipspace.world.datasets import batch_at, cached_split, scene_at

    pipe = load_pipeline("glass")
    images = batch_at(cached_split("test", 64), np.arange(24))
    rows = [caption_attributes(pipe.caption(images[i : i + 1], num_captions=1).captions[0][0], scene_at("test", i)) for i in range(24)]
    assert np.mean([r["true_of_scene"] for r in rows]) > 0.75
    assert np.mean([r["position"] for r in rows]) > 0.85


def test_zoo_unclip_variations_keep_color_and_shape():
    _need("prior", "decoder", "clip")
    from clipspace import load_pipeline

    pipe = load_pipeline("unclip")
    x, scenes = one_object_images(4)
    kept = 0
    for i in range(4):
        out = torch.stack([image_to_tensor(im) for im in pipe.variations(x[i : i + 1], num_images=2, seed=i).images])
        truth = (scenes[i].objects[0].color, scenes[i].objects[0].shape)
        kept += sum(r == truth for r in _color_shape(out))
        assert (out - x[i]).abs().mean() > 0.005  # new decoder noise: the pixels differ
    assert kept >= 6


def test_zoo_flow_text_to_image_names_the_color_and_shape():
    _need("flow", "generator", "clip")
    from clipspace import load_pipeline

    pipe = load_pipeline("flow")
    prompts = [("red", "circle"), ("blue", "star"), ("green", "square"), ("yellow", "triangle")]
    x = torch.cat([torch.stack([image_to_tensor(im) for im in pipe(f"a {c} {s}", num_images=2, seed=0).images]) for c, s in prompts])
    truth = [p for p in prompts for _ in range(2)]
    assert sum(a == b for a, b in zip(_color_shape(x), truth)) >= 5
