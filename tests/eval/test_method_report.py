"""The shared method figures, checked with stand-in methods whose answers are known (zoo oracle)."""
import torch

from clipspace.eval.method_report import diversity_entropy, edit_report, one_object_images, seconds_per_image, variation_report
from clipspace.io import tensor_to_pil


def test_one_object_images_have_one_object():
    x, scenes = one_object_images(5)
    assert x.shape == (5, 3, 64, 64) and all(len(s.objects) == 1 for s in scenes)


def test_identity_variations_keep_everything_and_differ_nowhere():
    rep = variation_report(lambda x, num, seed: [tensor_to_pil(x[0])] * num, n=20, num_images=2)
    assert rep["color_and_shape_kept"] >= 0.95 and rep["mean_abs_pixel_difference"] < 0.01 and rep["diversity"] < 1e-3


def test_an_edit_that_does_nothing_changes_nothing():
    rep = edit_report(lambda x, source, target, seed: tensor_to_pil(x[0]), n=20)
    assert rep["changed"] <= 0.05 and rep["kept_others"] >= 0.9


def test_diversity_entropy_is_zero_for_one_image_and_positive_for_many():
    x, _ = one_object_images(40)
    same = diversity_entropy(lambda p, num, seed: [tensor_to_pil(x[0])] * num, num_images=8)
    assert same["position_bits"] == 0 and same["background_bits"] == 0
    varied = diversity_entropy(lambda p, num, seed: [tensor_to_pil(x[(seed + i) % 40]) for i in range(num)], num_images=8)
    assert varied["position_bits"] > 1 and varied["background_bits"] > 0.5
    assert varied["max_bits"]["position"] > 3


def test_seconds_per_image_is_positive():
    assert seconds_per_image(lambda: torch.zeros(10).sum(), 10, repeats=2) >= 0
