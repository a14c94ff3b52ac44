import numpy as np
import pytest
import torch

from clipspace.io import InputError
from clipspace.pipelines.unclip import UnclipPipeline
from tests.tiny import tiny_clip, tiny_unclip_parts

FAST = dict(prior_steps=2, decoder_steps=2, upsampler_steps=2)


@pytest.fixture(scope="module")
def pipe():
    return UnclipPipeline(tiny_clip(), *tiny_unclip_parts())


def _px(out):
    return [np.asarray(im).astype(int) for im in out.images]


def test_text_to_image_seeded_batch_equals_single(pipe):
    steps = []
    out = pipe("a red circle", num_images=2, seed=4, callback=steps.append, **FAST)
    assert len(out.images) == 2 and out.images[0].size == (64, 64) and out.seeds == [4, 5]
    assert {s.stage.split()[0] for s in steps} == {"prior", "decoder", "upsampler"}
    again = pipe("a red circle", num_images=2, seed=4, **FAST)
    assert all((a == b).all() for a, b in zip(_px(out), _px(again)))
    single = pipe("a red circle", num_images=1, seed=5, **FAST)
    assert np.abs(_px(single)[0] - _px(out)[1]).max() <= 1


def test_guidance_scale_one_is_the_conditional_model(pipe):
    # with scale 1 the unconditional branch must not matter: a different negative prompt changes nothing
    a = pipe("a red circle", negative_prompt="a blue star", prior_guidance_scale=1.0, decoder_guidance_scale=1.0, **FAST)
    b = pipe("a red circle", negative_prompt="a green box", prior_guidance_scale=1.0, decoder_guidance_scale=1.0, **FAST)
    assert (_px(a)[0] == _px(b)[0]).all()
    c = pipe("a red circle", negative_prompt="a green box", prior_guidance_scale=3.0, **FAST)
    assert not (_px(c)[0] == _px(b)[0]).all()


def test_variations_interpolation_text_diff(pipe):
    img = torch.rand(1, 3, 64, 64)
    var = pipe.variations(img, num_images=2, **FAST)
    assert len(var.images) == 2 and not (_px(var)[0] == _px(var)[1]).all()
    strip = pipe.interpolate("a red circle", img, steps=3, **FAST)
    assert len(strip.images) == 3
    diff = pipe.text_diff(img, "a red circle", "a blue circle", alphas=(0.0, 1.0), **FAST)
    assert len(diff.images) == 2
    for sched in ("ddim", "dpm"):
        assert len(pipe("a red circle", scheduler=sched, **FAST).images) == 1


def test_save_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "p")
    again = UnclipPipeline.from_pretrained(tmp_path / "p")
    assert len(again("a red circle", **FAST).images) == 1


def _decoder(seed: int, prediction_type: str = "v_prediction"):
    from clipspace.models.decoder import Decoder, DecoderConfig

    torch.manual_seed(seed)
    return Decoder(DecoderConfig(embed_dim=16, size=32, channels=(8, 16), context_tokens=2, head_dim=8, prediction_type=prediction_type)).eval()


def test_expert_decoders_hand_over_at_the_switch(pipe, tmp_path):
    # v-prediction: a random epsilon model's first x0 estimate (divided by sqrt(alpha_bar) ~ 0.002) saturates every
    # pixel, and nothing a later step predicts could show
    layout, detail = _decoder(0), _decoder(1)
    experts, alone, detail_only = (UnclipPipeline(pipe.clip, pipe.prior, d, pipe.upsampler, decoder_detail=e)
                                   for d, e in ((layout, detail), (layout, None), (detail, None)))
    img = torch.rand(1, 3, 64, 64)
    run = lambda p, switch: _px(p.variations(img, num_images=1, seed=3, decoder_switch=switch, **FAST))[0]  # noqa: E731
    assert (run(experts, 0) == run(alone, 0)).all()  # no step below the switch: the layout expert alone
    assert (run(experts, 1000) == run(detail_only, 1000)).all()  # every step: the detail expert alone
    mixed = run(experts, 600)  # FAST's two decoder steps are t = 999 and t = 500: one each
    assert not (mixed == run(alone, 0)).all() and not (mixed == run(detail_only, 1000)).all()
    experts.save_pretrained(tmp_path / "p")
    again = UnclipPipeline.from_pretrained(tmp_path / "p")
    assert again.decoder_detail is not None and np.abs(run(again, 600) - mixed).max() <= 1  # the saved CLIP moves embeddings ~1e-4


def test_guidance_interval_limits_decoder_guidance(pipe):
    # FAST's two decoder steps are t = 999 and t = 500; a v-prediction decoder so that guidance shows (see above)
    p = UnclipPipeline(pipe.clip, pipe.prior, _decoder(0), pipe.upsampler)
    img = torch.rand(1, 3, 64, 64)
    run = lambda **kw: _px(p.variations(img, num_images=1, seed=2, **FAST, **kw))[0]  # noqa: E731
    unguided, guided = run(decoder_guidance_scale=1.0), run(decoder_guidance_interval=(0, 1000))
    assert not (guided == unguided).all()
    assert (run(decoder_guidance_interval=(600, 900)) == unguided).all()  # no step inside: the conditional model alone
    part = run(decoder_guidance_interval=(0, 600))  # t = 500 guided, t = 999 not
    assert not (part == unguided).all() and not (part == guided).all()


def test_expert_decoders_must_share_their_schedule(pipe):
    with pytest.raises(ValueError, match="must share"):
        UnclipPipeline(pipe.clip, pipe.prior, _decoder(0, "epsilon"), pipe.upsampler, decoder_detail=_decoder(1))


@pytest.mark.parametrize("bad", [
    dict(prompt=""), dict(prompt="x", num_images=0), dict(prompt="x", decoder_guidance_scale=-1.0),
    dict(prompt="x", scheduler="euler"), dict(prompt="x", prior_steps=0), dict(prompt="x", upsampler_strength=0.0),
    dict(prompt="x", upsampler_strength=1.5), dict(prompt="x", decoder_switch=-1), dict(prompt="x", decoder_switch=1001),
    dict(prompt="x", decoder_guidance_interval=(700, 600)), dict(prompt="x", decoder_guidance_interval=(0, 1001)),
])
def test_bad_input(pipe, bad):
    prompt = bad.pop("prompt")
    with pytest.raises(InputError):
        pipe(prompt, **bad)


def test_ar_prior_pipeline(tmp_path):
    import torch.nn.functional as F

    from clipspace.models.prior_ar import ARPrior, ARPriorConfig

    torch.manual_seed(0)
    ar = ARPrior(ARPriorConfig(embed_dim=16, pca_dim=4, bins=8, hidden=16, layers=1, heads=2))
    ar.fit_codebook(F.normalize(torch.randn(200, 16), dim=-1))
    _, decoder, upsampler = tiny_unclip_parts()
    pipe = UnclipPipeline(tiny_clip(), ar.eval(), decoder, upsampler)
    out = pipe("a red circle", num_images=2, seed=0, **FAST)
    again = pipe("a red circle", num_images=2, seed=0, **FAST)
    assert all((a == b).all() for a, b in zip(_px(out), _px(again)))
    single = pipe("a red circle", num_images=1, seed=1, **FAST)
    assert np.abs(_px(single)[0].astype(int) - _px(out)[1].astype(int)).max() <= 1  # image i of a batch = seed + i alone
    from clipspace.pipelines.unclip import UnclipSettings

    s = UnclipSettings(prior_guidance_scale=20.0)
    gens = lambda: [torch.Generator().manual_seed(i) for i in range(8)]  # noqa: E731
    plain, away = (pipe.sample_prior(["a red circle"], neg, gens(), s) for neg in (None, ["a blue star"]))
    assert not torch.equal(plain, away)  # the negative steers the AR prior's guidance
    pipe.save_pretrained(tmp_path / "p")
    loaded = UnclipPipeline.from_pretrained(tmp_path / "p", prior="prior-ar")
    assert isinstance(loaded.prior, ARPrior)


def test_upsampler_strength_below_one_starts_from_the_low_resolution_image(pipe):
    """strength < 1: the upsampler refines the noised bilinear image, so it stays near the decoder's 32 px image;
    from pure noise (strength 1) this untrained upsampler lands far from it."""
    from clipspace.io import image_to_tensor

    def run(**kw):
        return image_to_tensor(pipe("a red circle", seed=0, prior_steps=2, decoder_steps=2, upsampler_steps=10, **kw).images[0])

    up = pipe.upsampler
    try:
        pipe.upsampler = None  # the decoder's image, bilinear to 64 px
        bilinear = run()
    finally:
        pipe.upsampler = up
    near, far = run(upsampler_strength=0.1), run(upsampler_strength=1.0)
    assert near.shape == far.shape == bilinear.shape == (3, 64, 64)
    assert (near - bilinear).abs().mean() < 0.5 * (far - bilinear).abs().mean()
