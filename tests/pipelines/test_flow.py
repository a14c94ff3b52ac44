import numpy as np
import pytest
import torch

from clipspace.io import InputError
from clipspace.pipelines.flow import FlowPipeline
from tests.tiny import tiny_clip, tiny_flow, tiny_generator, tiny_regressor


@pytest.fixture(scope="module")
def pipe():
    return FlowPipeline(tiny_generator(), tiny_clip(), tiny_flow(), tiny_regressor())


def _px(out):
    return [np.asarray(im) for im in out.images]


def test_text_to_image_seeded_and_batch_equals_single(pipe):
    calls = []
    out = pipe("a red circle", num_images=3, seed=2, callback=calls.append)
    assert len(out.images) == 3 and out.images[0].size == (64, 64) and out.seeds == [2, 3, 4] and calls
    again = pipe("a red circle", num_images=3, seed=2)
    assert all((a == b).all() for a, b in zip(_px(out), _px(again)))
    single = pipe("a red circle", num_images=1, seed=3)
    assert np.abs(_px(single)[0].astype(int) - _px(out)[1].astype(int)).max() <= 1
    assert not (_px(out)[0] == _px(out)[1]).all()  # samples differ


def test_conditions_baseline_edit_interpolate(pipe):
    img = torch.rand(1, 3, 64, 64)
    assert len(pipe(image=img, num_images=2).images) == 2
    assert len(pipe("a red circle", negative_prompt="a blue star", text_condition="direct").images) == 1
    base = pipe("a red circle", num_images=2, baseline=True)
    assert (_px(base)[0] == _px(base)[1]).all()  # regression: one w per condition
    edited = pipe.edit(img, source="a red circle", target="a blue circle")
    assert len(edited.images) == 1
    strip = pipe.interpolate("a red circle", "a blue star", steps=4)
    assert len(strip.images) == 4
    with pytest.raises(InputError, match="no such image"):
        pipe.interpolate("missing.png", "a blue star", steps=4)  # a mistyped path is not a prompt
    with pytest.raises(InputError):
        pipe.edit(img, source="a red circle", target="a blue circle", text_condition="other")


def test_save_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "p")
    again = FlowPipeline.from_pretrained(tmp_path / "p")
    a, b = pipe("a red circle", seed=0), again("a red circle", seed=0)
    assert np.abs(_px(a)[0].astype(int) - _px(b)[0].astype(int)).mean() < 8  # fp16 weights


@pytest.mark.parametrize("bad", [
    dict(prompt=""), dict(prompt="x", num_images=0), dict(prompt="x", temperature=-1.0),
    dict(prompt="x", text_condition="other"), dict(prompt="x", optimizer="ga"),
])
def test_bad_input(pipe, bad):
    prompt = bad.pop("prompt")
    with pytest.raises(InputError):
        pipe(prompt, **bad)
