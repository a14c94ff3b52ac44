import numpy as np
import pytest
import torch

from clipspace.io import InputError
from clipspace.pipelines.glass import GlassPipeline
from clipspace.search import OPTIMIZERS
from tests.tiny import tiny_caption_lm, tiny_clip, tiny_critic, tiny_generator

FAST = dict(generations=3, population=6)


@pytest.fixture(scope="module")
def pipe():
    return GlassPipeline(tiny_generator(), tiny_clip(), tiny_critic(), tiny_caption_lm())


def _pixels(out):
    return [np.asarray(im) for im in out.images]


def test_text_to_image_shapes_scores_and_seeds(pipe):
    out = pipe("a red circle", num_images=2, seed=5, **FAST)
    assert len(out.images) == 2 and out.images[0].size == (64, 64) and out.images[0].mode == "RGB"
    assert out.seeds == [5, 6] and len(out.scores) == 2 and all(-1 <= s <= 1 for s in out.scores)
    assert all(len(h) == FAST["generations"] for h in out.history)
    assert all(h == sorted(h) for h in out.history)  # best-so-far never decreases
    again = pipe("a red circle", num_images=2, seed=5, **FAST)
    assert all((a == b).all() for a, b in zip(_pixels(out), _pixels(again)))  # same seed, same pixels
    single = pipe("a red circle", num_images=1, seed=6, **FAST)
    assert (_pixels(single)[0] == _pixels(out)[1]).all()  # image i of a batch = a single run with seed + i


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
@pytest.mark.parametrize("latent", ["z", "w", "w+"])
def test_every_optimizer_and_latent_improves_fitness(pipe, optimizer, latent):
    steps = []
    # snap off: the tiny random generator's snapped fitness is flat over most steps of 8 candidates
    out = pipe("a blue star", optimizer=optimizer, latent=latent, generations=6, population=8, snap=False, callback=steps.append)
    assert [s.step for s in steps] == list(range(1, 7)) and steps[-1].total == 6
    h = out.history[0]
    assert h[-1] > h[0]  # better than the initial population's best (history[0])
    if optimizer == "nsga2":
        front = np.array(out.extras["pareto_fronts"][0])
        assert front.ndim == 2 and front.shape[1] == 2


def test_targets_negative_weighted_and_image_prompts(pipe):
    from clipspace.io import image_to_tensor

    img = torch.rand(1, 3, 64, 64)
    out = pipe(image=img, **FAST)  # image prompt alone
    assert len(out.images) == 1
    out = pipe("a red circle", negative_prompt="a blue star", aug=2, **FAST)
    assert len(out.images) == 1
    # a negative prompt moves the result away from it
    neg = pipe.clip.encode_text(["a blue star"])[0]
    sim = lambda o: float(pipe.clip.encode_image(image_to_tensor(o.images[0])[None]) @ neg)  # noqa: E731
    plain = pipe("a red circle", seed=3, generations=6, population=8)
    away = pipe("a red circle", negative_prompt="a blue star", negative_weight=3.0, seed=3, generations=6, population=8)
    assert sim(away) < sim(plain)
    # weights pull the search toward the heavier prompt
    pair = ["a red circle", "a blue star"]
    embs = pipe.clip.encode_text(pair)
    heavy = [pipe(pair, prompt_weights=w, seed=3, generations=6, population=8) for w in ([10.0, 1.0], [1.0, 10.0])]
    e = [pipe.clip.encode_image(image_to_tensor(o.images[0])[None])[0] for o in heavy]
    assert float(e[0] @ embs[0] - e[0] @ embs[1]) > float(e[1] @ embs[0] - e[1] @ embs[1])


def test_save_load_round_trip(pipe, tmp_path):
    pipe.save_pretrained(tmp_path / "p")
    again = GlassPipeline.from_pretrained(tmp_path / "p")
    a = pipe("a red circle", seed=1, **FAST)
    b = again("a red circle", seed=1, **FAST)
    # fp16 storage changes weights slightly; the search must still run and give valid images
    assert len(b.images) == 1 and abs(a.history[0][0] - b.history[0][0]) < 0.05


@pytest.mark.parametrize("bad", [
    dict(prompt=""), dict(prompt=None), dict(prompt="x", num_images=0), dict(prompt="x", optimizer="sgd"),
    dict(prompt="x", latent="q"), dict(prompt="x", generations=0), dict(prompt="x", psi=-1.0),
    dict(prompt="!!!"), dict(prompt=["a", "b"], prompt_weights=[1.0]), dict(prompt="x", prompt_weights=[-1.0]),
])
def test_bad_input_is_an_input_error(pipe, bad):
    prompt = bad.pop("prompt")
    with pytest.raises(InputError):
        pipe(prompt, **bad)


@pytest.mark.parametrize("method", ["ga", "guided"])
def test_caption_decoders(pipe, method):
    out = pipe.caption(torch.rand(2, 3, 64, 64), method=method, num_captions=2, population=6, generations=2, top_k=3, beam=2)
    assert len(out.captions) == 2 and all(1 <= len(c) <= 2 for c in out.captions)
    assert all(isinstance(c, str) and c for cs in out.captions for c in cs)
    assert all(-1 <= x <= 1 for s in out.scores for x in s)
    assert all(s == sorted(s, reverse=True) for s in out.scores)  # placed, then ranked by CLIP
    if method == "guided":  # place=False: the decoder's own captions, in its order (CLIP plus its LM term)
        from clipspace.search.text import guided_decode

        image = torch.rand(1, 3, 64, 64)
        raw = pipe.caption(image, method=method, num_captions=2, top_k=3, beam=2, place=False)
        direct = guided_decode(pipe.caption_lm, pipe.clip, pipe.clip.encode_image(image)[0], top_k=3, beam=2, num_captions=2)
        assert raw.captions[0] == direct.captions
    with pytest.raises(InputError):
        pipe.caption(torch.rand(1, 3, 64, 64), method="beam")


def test_captioning_needs_no_generator(pipe):
    captioner = GlassPipeline(None, pipe.clip, None, pipe.caption_lm)
    out = captioner.caption(torch.rand(1, 3, 64, 64), method="guided", num_captions=1, top_k=3, beam=2)
    assert len(out.captions) == 1
    with pytest.raises(InputError, match="generator"):
        captioner("a red circle", **FAST)


def test_caption_clip_judges_captions(pipe, tmp_path):
    """A separate captioning CLIP scores the captions (and travels with the pipeline); the text -> image CLIP does not."""
    judge = tiny_clip(seed=3)
    captioner = GlassPipeline(None, pipe.clip, None, pipe.caption_lm, caption_clip=judge)
    image = torch.rand(1, 3, 64, 64)
    out = captioner.caption(image, method="guided", num_captions=2, top_k=3, beam=2)
    want = (judge.encode_text(out.captions[0]) @ judge.encode_image(image)[0]).tolist()
    other = (pipe.clip.encode_text(out.captions[0]) @ pipe.clip.encode_image(image)[0]).tolist()
    assert np.allclose(out.scores[0], want, atol=1e-5) and not np.allclose(out.scores[0], other, atol=1e-3)
    captioner.save_pretrained(tmp_path / "c")
    again = GlassPipeline.from_pretrained(tmp_path / "c")
    assert again.caption_clip is not None and again.generator is None
    assert GlassPipeline.from_pretrained(tmp_path / "c", caption_clip=None).caption_clip is None


def test_insert_spans_keeps_only_rising_scores(pipe):
    """Phrase insertion lengthens a caption when the judge rewards words, and leaves it when the judge punishes them."""
    from clipspace.search.text import insert_spans

    lm = pipe.caption_lm
    start = "a red circle"
    longer, v_long = insert_spans(lm, lambda texts: np.array([len(t.split()) for t in texts], float), start, rounds=2, plausibility=1e-4)
    assert len(longer.split()) > len(start.split())
    same, _ = insert_spans(lm, lambda texts: -np.array([len(t.split()) for t in texts], float), start, rounds=2, plausibility=1e-4)
    assert same == start
