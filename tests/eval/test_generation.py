import numpy as np
import torch

from clipspace.eval.fid import frechet_distance
from clipspace.eval.generation import generator_report, mean_pairwise_distance, text_to_image_report, valid_mask
from clipspace.eval.metrics import load_oracle
from clipspace.eval.prompts import prompt_sets
from clipspace.eval.report import images_of_test_split
from clipspace.world import parse_caption
from clipspace.eval import prompt_group


def test_frechet_distance_separates_distributions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    assert frechet_distance(a, b) < 0.1
    assert frechet_distance(a, b + 1.0) > 7.0  # ||mu||^2 = 8


def test_prompt_sets_are_fixed_and_grouped():
    sets = prompt_sets()
    assert sets == prompt_sets()
    assert len(sets["held_out"]) >= 25 and len(sets["seen"]) >= 70
    assert all(prompt_group(parse_caption(p)) == "held_out" for p in sets["held_out"])
    assert all(prompt_group(parse_caption(p)) == "seen" for p in sets["seen"])
    assert all(len(parse_caption(p).objects) == 2 for p in sets["two_object"])


def test_real_scenes_are_valid_and_noise_is_not():
    oracle = load_oracle()
    assert valid_mask(oracle.read(images_of_test_split(200))).float().mean() > 0.97
    noise = torch.rand(64, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert valid_mask(oracle.read(noise)).float().mean() < 0.2


def test_generator_report_on_a_tiny_generator():
    from tests.tiny import tiny_generator

    rep = generator_report(tiny_generator(), n=64, n_real=200)
    assert 0 <= rep["valid"] <= 0.2  # an untrained generator draws no scenes
    assert rep["oracle_fid"] > rep["oracle_fid_real_vs_real"]
    assert set(rep["within_half_to_double"]) == {"pair", "size", "position", "background"}


def test_text_to_image_report_runs():
    from clipspace.pipelines.flow import FlowPipeline
    from tests.tiny import tiny_clip, tiny_flow, tiny_generator

    pipe = FlowPipeline(tiny_generator(), tiny_clip(), tiny_flow())
    clip_dir = None
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        tiny_clip(1).save_pretrained(d)
        clip_dir = d
        rep = text_to_image_report(pipe, {"seen": ["a red circle"], "held_out": ["a purple star"]}, num_images=2, eval_clip=clip_dir)
    assert set(rep) == {"seen", "held_out"}
    assert 0 <= rep["seen"]["oracle"]["all"]["full_match"] <= 1 and rep["held_out"]["oracle"]["held_out"]["n"] == 2
    assert mean_pairwise_distance(torch.eye(3)) > 0
