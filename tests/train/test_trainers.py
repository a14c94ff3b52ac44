"""A few-step smoke test of every trainer, including resume (tiny models, tiny data in a temp dir)."""
import json

import pytest
import torch
from safetensors import safe_open

from clipspace.train.common import load_train_config


@pytest.fixture(autouse=True)
def tmp_data(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPSPACE_DATA", str(tmp_path / "data"))


def test_oracle_trainer_runs_and_resumes(tmp_path):
    from clipspace.models.oracle import Oracle
    from clipspace.train.oracle import OracleTrainConfig, train

    cfg = OracleTrainConfig(
        output_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "export"), num_train_scenes=64, num_val_scenes=16,
        steps=2, batch_size=8, eval_every=2, threads=1, model={"channels": [8, 8, 8], "hidden": 16},
    )
    train(cfg)
    with pytest.raises(FileExistsError):
        train(cfg)  # an existing run is never silently overwritten
    cfg.steps = 4
    train(cfg, resume=True)
    log = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "val_clean" in r] == [2, 4]
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"] == 4
    assert Oracle.from_pretrained(tmp_path / "export").read(torch.rand(1, 3, 64, 64)).present.shape == (1, 9)


def test_clip_trainer_runs(tmp_path):
    from clipspace.models.clip import ClipSpace
    from clipspace.train.clip import ClipTrainConfig, train

    cfg = ClipTrainConfig(
        output_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "export"), num_train_scenes=64, steps=2,
        batch_size=8, eval_every=2, eval_images=8, threads=1, word_loss_weight=0.5, negatives_per_image=2, image_negatives=1.0, pair_loss_weight=1.0,
        detail_loss_weight=1.0,
        model={"vision_hidden": 32, "vision_layers": 1, "text_hidden": 32, "text_layers": 1, "heads": 2, "projection_dim": 16},
    )
    train(cfg)
    clip = ClipSpace.from_pretrained(tmp_path / "export")
    assert clip.encode_text(["a red circle"]).shape == (1, 16)
    with safe_open(tmp_path / "export" / "model.safetensors", "pt") as f:
        assert not any(k.startswith("word") for k in f.keys())  # the training-only head is not exported
    # a warm start from an exported model begins from its weights
    cfg.output_dir, cfg.export_dir, cfg.init_from, cfg.steps = str(tmp_path / "run2"), None, str(tmp_path / "export"), 1
    warm = train(cfg).eval()
    ref = clip.encode_text(["a red circle", "a big blue star"])
    assert torch.allclose(warm.encode_text(["a red circle", "a big blue star"]), ref, atol=2e-2)
    # a warm start that exports into its own init dir overwrites it only with a better val score (lr 0: never)
    before = (tmp_path / "export" / "training.json").read_text()
    cfg.output_dir, cfg.export_dir, cfg.lr, cfg.steps, cfg.eval_every = str(tmp_path / "run3"), str(tmp_path / "export"), 0.0, 2, 1
    train(cfg)
    assert (tmp_path / "export" / "training.json").read_text() == before
    assert '"init_score"' in (tmp_path / "run3" / "log.jsonl").read_text()
    # a fine-tune into a new dir exports its own best
    cfg.output_dir, cfg.export_dir = str(tmp_path / "run4"), str(tmp_path / "other")
    train(cfg)
    assert json.loads((tmp_path / "other" / "training.json").read_text())["step"] == 1


def test_image_negatives_are_false_and_enter_only_their_captions_softmax():
    import torch.nn.functional as F

    from clipspace.train.clip_losses import contrastive_loss
    from clipspace.train.clip_negatives import swap_colors
    from clipspace.world.captions import (
        ObjectMention,
        ParsedCaption,
        caption_matches_scene,
    )
    from clipspace.world.datasets import scene_at

    scene = next(s for s in (scene_at("train", i) for i in range(200)) if len(s.objects) == 2 and s.objects[0].shape != s.objects[1].shape)
    swapped = swap_colors(scene)
    assert [o.color for o in swapped.objects] == [o.color for o in reversed(scene.objects)]
    assert [o.rgb for o in swapped.objects] == [o.rgb for o in reversed(scene.objects)]
    assert [o.shape for o in swapped.objects] == [o.shape for o in scene.objects]
    said = ParsedCaption(objects=[ObjectMention(color=o.color, shape=o.shape) for o in scene.objects], relation="and")
    assert caption_matches_scene(said, scene) and not caption_matches_scene(said, swapped)

    from clipspace.train.clip_losses import PAIRS, bound_pairs
    swapped_said = ParsedCaption(objects=[ObjectMention(color=o.color, shape=o.shape) for o in swapped.objects], relation="and")
    half = ParsedCaption(objects=[ObjectMention(color=scene.objects[0].color), ObjectMention(shape=scene.objects[1].shape)], relation="and")
    bags = bound_pairs([said, swapped_said, half])
    assert bags.shape == (3, len(PAIRS)) and bags[0].sum() == 2 and bags[1].sum() == 2 and bags[2].sum() == 0
    assert (bags[0] * bags[1]).sum() == 0  # same words, no pair in common

    g = torch.Generator().manual_seed(0)
    img, txt = (F.normalize(torch.randn(4, 8, generator=g), dim=-1) for _ in range(2))
    scale = torch.tensor(10.0)
    base = contrastive_loss(img, txt, None, scale, None)
    with_neg = contrastive_loss(img, txt, None, scale, None, txt[2:3].clone(), torch.tensor([2]))  # a negative image equal to caption 2
    logits = scale * txt @ img.T
    row = logits[2]
    extra = (torch.logsumexp(torch.cat([row, scale * (txt[2] @ txt[2]).view(1)]), 0) - torch.logsumexp(row, 0)) / 4 / 2
    assert torch.allclose(with_neg - base, extra, atol=1e-5) and extra > 0


def test_position_swaps_bind_positions_the_other_way_round():
    import numpy as np

    from clipspace.train.clip_negatives import hard_negative, swap_positions
    from clipspace.world import render
    from clipspace.world.captions import (
        CaptionStyle,
        ObjectMention,
        ParsedCaption,
        caption_matches_scene,
        choose_mentions,
    )
    from clipspace.world.datasets import scene_at

    pairs = [s for s in (scene_at("train", i) for i in range(300)) if len(s.objects) == 2]
    scene = pairs[0]
    moved = swap_positions(scene)
    a, b = scene.objects
    assert [(o.cell, o.cx, o.cy) for o in moved.objects] == [(b.cell, b.cx, b.cy), (a.cell, a.cx, a.cy)]
    assert [(o.color, o.shape, o.size) for o in moved.objects] == [(o.color, o.shape, o.size) for o in scene.objects]
    assert render(moved).shape == render(scene).shape
    said = ParsedCaption(objects=[ObjectMention(shape=o.shape, color=o.color, position=o.position) for o in scene.objects], relation="and")
    assert caption_matches_scene(said, scene) and not caption_matches_scene(said, moved)

    rng, made = np.random.default_rng(0), 0
    for s in pairs:
        said = choose_mentions(s, rng, CaptionStyle(p_position_pair=0.7))
        neg = hard_negative(said, s, rng, weights={"swap_position": 1.0})
        if neg is None:  # nothing placed, or the moved caption is still true ("an object at the top": so is the other)
            continue
        made += 1
        assert not caption_matches_scene(neg, s)
        named = [m.position for m in neg.objects if m.position]
        assert set(named) <= {o.position for o in s.objects}  # only the scene's own places, bound wrongly
    assert made > len(pairs) / 2


def test_hard_negatives_are_false_and_respect_the_held_out_rule():
    import numpy as np

    from clipspace.train.clip_negatives import hard_negative
    from clipspace.world.captions import caption_matches_scene, choose_mentions
    from clipspace.world.datasets import scene_at
    from clipspace.world.scene import is_held_out

    rng = np.random.default_rng(0)
    made = 0
    for i in range(500):
        scene = scene_at("train", i)
        said = choose_mentions(scene, rng)
        neg = hard_negative(said, scene, rng)
        if neg is None:
            continue
        made += 1
        assert not caption_matches_scene(neg, scene)
        assert not any(is_held_out(m.color, m.shape) for m in neg.objects)
    assert made > 400


def test_config_rejects_unknown_keys(tmp_path):
    from clipspace.train.oracle import OracleTrainConfig

    p = tmp_path / "c.json"
    p.write_text(json.dumps({"stepz": 3}))
    with pytest.raises(ValueError, match="stepz"):
        load_train_config(OracleTrainConfig, p)


def test_caption_lm_trainer_runs(tmp_path):
    from clipspace.models.caption_lm import CaptionLM
    from clipspace.train.caption_lm import CaptionLMTrainConfig, train

    cfg = CaptionLMTrainConfig(
        output_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "export"), steps=2, batch_size=8, eval_every=2,
        threads=1, model={"hidden": 16, "layers": 1, "heads": 2},
    )
    train(cfg)
    lm = CaptionLM.from_pretrained(tmp_path / "export")
    assert len(lm.sample(3, generator=torch.Generator().manual_seed(0))) == 3
    # a fine-tune starts from the export: at lr 0 it ends where it began
    ft = train(CaptionLMTrainConfig(output_dir=str(tmp_path / "ft"), export_dir=str(tmp_path / "ft-export"), steps=1, batch_size=8, eval_every=1, threads=1, lr=0.0,
                                    model={"hidden": 16, "layers": 1, "heads": 2}, init_from=str(tmp_path / "export")))
    for name, v in lm.model.state_dict().items():
        torch.testing.assert_close(ft.model.state_dict()[name], v.float(), atol=1e-3, rtol=0)  # the export is fp16
    assert json.loads((tmp_path / "ft-export" / "training.json").read_text())["init"]["config"]["steps"] == 2  # its lineage
    # a fine-tune into its own init_from dir, resumed for more steps, still records the original as its origin
    inplace = dict(export_dir=str(tmp_path / "export"), batch_size=8, eval_every=1, threads=1, lr=0.0,
                   model={"hidden": 16, "layers": 1, "heads": 2}, init_from=str(tmp_path / "export"))
    train(CaptionLMTrainConfig(output_dir=str(tmp_path / "ip"), steps=1, **inplace))
    train(CaptionLMTrainConfig(output_dir=str(tmp_path / "ip"), steps=2, **inplace), resume=True)
    record = json.loads((tmp_path / "export" / "training.json").read_text())
    assert record["config"]["steps"] == 2 and record["init"]["config"]["steps"] == 2 and "init" not in record["init"]


@pytest.mark.parametrize("mapping", ["kde", "mixture"])
def test_generator_trainer_runs_all_stages(tmp_path, mapping):
    from clipspace.models.critic import Critic
    from clipspace.models.generator import Generator
    from clipspace.train.generator import GeneratorTrainConfig, train

    cfg = GeneratorTrainConfig(
        output_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "g"), critic_export_dir=str(tmp_path / "c"),
        num_train_scenes=64, steps=2, batch_size=8, mixture_images=64, em_iterations=2, critic_steps=2, threads=1, eval_images=8,
        w_noise=0.05, model={"hidden": 8, "layers": 1, "frequencies": 2, "sprite_size": 8, "encoder_channels": [4, 4, 4, 4], "num_clusters": 4,
               "mapping": mapping},
        critic={"channels": [4, 4, 4, 4]},
    )
    train(cfg)
    gen = Generator.from_pretrained(tmp_path / "g")
    assert gen.mapping.scale_tril.shape[0] == (1 if mapping == "kde" else 4)
    x = gen.sample(3, torch.Generator().manual_seed(0))
    assert x.shape == (3, 3, 64, 64) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, gen.sample(3, torch.Generator().manual_seed(0)))
    assert Critic.from_pretrained(tmp_path / "c").realism(x).shape == (3,)
    log = (tmp_path / "run" / "log.jsonl").read_text()
    assert '"stage": "mixture"' in log and '"stage": "critic"' in log
    assert sorted(p.name for p in (tmp_path / "run" / "samples").iterdir()) == ["generator-psi1.png", "synthesis-000002.png"]


def test_mixture_fit_recovers_two_clusters():
    from clipspace.train.generator import fit_mixture

    g = torch.Generator().manual_seed(0)
    w = torch.cat([torch.randn(500, 2, generator=g) * 0.1 + 3, torch.randn(500, 2, generator=g) * 0.1 - 3])
    means, tril, log_w = fit_mixture(w, 2, 20, g)
    assert sorted(means[:, 0].round().tolist()) == [-3.0, 3.0]
    assert torch.allclose(log_w.exp(), torch.tensor([0.5, 0.5]), atol=0.05)
    assert (torch.diagonal(tril, dim1=-2, dim2=-1) < 0.2).all()


def test_flow_trainer_runs_all_stages(tmp_path):
    from clipspace.models.flow import ClipFlow, WRegressor
    from clipspace.models.generator import W_DIM
    from clipspace.train.flow import FlowTrainConfig, train
    from tests.tiny import tiny_clip, tiny_generator

    tiny_generator().save_pretrained(tmp_path / "g")
    tiny_clip().save_pretrained(tmp_path / "c")
    cfg = FlowTrainConfig(
        output_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "f"), baseline_export_dir=str(tmp_path / "b"),
        generator=str(tmp_path / "g"), clip=str(tmp_path / "c"), num_pairs=64, val_pairs=16, steps=3, batch_size=16,
        aligner_steps=2, aligner_scenes=32, baseline_steps=2, eval_every=3, threads=1,
        model={"blocks": 2, "hidden": 16, "reflections": 2, "aligner_hidden": 8},
    )
    train(cfg)
    flow = ClipFlow.from_pretrained(tmp_path / "f")
    e = torch.nn.functional.normalize(torch.randn(2, 16), dim=-1)
    assert flow.sample(e, generator=torch.Generator().manual_seed(0)).shape == (2, W_DIM)
    assert WRegressor.from_pretrained(tmp_path / "b")(e).shape == (2, W_DIM)
    log = (tmp_path / "run" / "log.jsonl").read_text()
    assert "val_nll" in log and '"stage": "aligner"' in log and "val_mse" in log


@pytest.mark.parametrize("component", ["prior", "prior-ar", "decoder", "upsampler"])
def test_unclip_trainers_run(tmp_path, component):
    from clipspace.train.unclip import UnclipTrainConfig, train
    from tests.tiny import tiny_clip

    tiny_clip().save_pretrained(tmp_path / "c")
    models = {
        "prior": {"layers": 1, "heads": 2, "head_dim": 8},
        "prior-ar": {"pca_dim": 4, "bins": 8, "hidden": 16, "layers": 1, "heads": 2},
        "decoder": {"channels": [8, 16], "context_tokens": 2, "head_dim": 8, "prediction_type": "v_prediction"},
        "upsampler": {"channels": [8, 8]},
    }
    cfg = UnclipTrainConfig(
        component=component, output_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "m"), clip=str(tmp_path / "c"),
        num_train_scenes=32, steps=2, batch_size=4, warmup_steps=1, eval_every=2, threads=1, model=models[component],
        crop=32 if component == "upsampler" else 0,
    )
    model = train(cfg)
    assert (tmp_path / "m" / "model.safetensors").exists() and (tmp_path / "m" / "training.json").exists()
    if component == "prior":
        assert model.emb_std.min() > 0 and not torch.allclose(model.emb_mean, torch.zeros_like(model.emb_mean))


@pytest.mark.parametrize("component", ["decoder", "upsampler"])
def test_image_models_fine_tune_from_epsilon_to_v_prediction(tmp_path, component):
    from clipspace.models.decoder import Decoder, Upsampler
    from clipspace.train.unclip import UnclipTrainConfig, train
    from tests.tiny import tiny_clip

    tiny_clip().save_pretrained(tmp_path / "c")
    model = {"decoder": {"channels": [8, 16], "context_tokens": 2, "head_dim": 8}, "upsampler": {"channels": [8, 8]}}[component]
    common = dict(component=component, clip=str(tmp_path / "c"), num_train_scenes=32, batch_size=4, warmup_steps=1, eval_every=2, threads=1)
    train(UnclipTrainConfig(output_dir=str(tmp_path / "r1"), export_dir=str(tmp_path / "eps"), steps=1, model=model, **common))
    cls = Decoder if component == "decoder" else Upsampler
    eps = cls.from_pretrained(tmp_path / "eps")
    assert eps.config.prediction_type == "epsilon"
    # lr 0: the fine-tune starts from the epsilon weights exactly and only its config says v
    tuned = train(UnclipTrainConfig(output_dir=str(tmp_path / "r2"), export_dir=str(tmp_path / "v"), steps=2, lr=0.0, init_from=str(tmp_path / "eps"),
                                    model={**model, "prediction_type": "v_prediction"}, **common))
    v = cls.from_pretrained(tmp_path / "v")
    assert v.config.prediction_type == "v_prediction" and tuned.config.prediction_type == "v_prediction"
    lineage = json.loads((tmp_path / "v" / "training.json").read_text())["init"]  # how the starting weights were made
    assert lineage["config"]["model"].get("prediction_type", "epsilon") == "epsilon"
    for a, b in zip(eps.state_dict().values(), v.state_dict().values()):
        torch.testing.assert_close(a.float(), b.float(), atol=1e-3, rtol=1e-3)


def test_v_target_is_diffusers_velocity():
    from clipspace.pipelines.unclip import training_scheduler
    from clipspace.train.unclip import _target

    x0, noise, t = torch.randn(3, 3, 8, 8), torch.randn(3, 3, 8, 8), torch.tensor([0, 500, 999])
    v = _target(training_scheduler("v_prediction"), x0, noise, t)
    ab = training_scheduler("v_prediction").alphas_cumprod[t].view(-1, 1, 1, 1)
    torch.testing.assert_close(v, ab.sqrt() * noise - (1 - ab).sqrt() * x0)
    assert torch.equal(_target(training_scheduler("epsilon"), x0, noise, t), noise)


def test_time_limit_checkpoints_and_resume_finishes(tmp_path):
    from clipspace.train.unclip import UnclipTrainConfig, train
    from tests.tiny import tiny_clip

    tiny_clip().save_pretrained(tmp_path / "c")
    cfg = UnclipTrainConfig(component="upsampler", output_dir=str(tmp_path / "run"), export_dir=str(tmp_path / "m"), clip=str(tmp_path / "c"),
                            num_train_scenes=32, steps=3, batch_size=2, warmup_steps=1, eval_every=100, threads=1,
                            model={"channels": [8, 8]}, time_limit_s=1e-9)
    assert train(cfg) is None  # stopped after its first step, checkpointed, its EMA so far exported
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"] == 1
    info = json.loads((tmp_path / "m" / "training.json").read_text())
    assert info["partial"] is True and info["step"] == 1
    cfg.time_limit_s = 0.0
    assert train(cfg, resume=True) is not None
    info = json.loads((tmp_path / "m" / "training.json").read_text())
    assert "partial" not in info and info["step"] == 3


def test_device_that_is_not_there_is_a_clear_error():
    from clipspace.train.common import resolve_device

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_word_readout_is_fixed_and_tells_every_word_apart():
    from clipspace.train.clip_losses import WordReadout

    r = WordReadout(16, 8, scale=10.0)
    assert [n for n, _ in r.named_parameters()] == ["bias"]  # the directions are not learned
    assert torch.allclose(r.weight @ r.weight.T, 100.0 * torch.eye(8), atol=1e-3)  # one orthonormal row per word
    assert torch.equal(WordReadout(16, 8).weight, r.weight)  # seeded


def test_detail_choices_name_one_slot_truly_not_at_all_and_falsely():
    import numpy as np

    from clipspace.train.clip_losses import detail_loss
    from clipspace.train.clip_negatives import OPTIONS, detail_choices
    from clipspace.world.captions import CaptionStyle, caption_matches_scene, choose_mentions
    from clipspace.world.datasets import scene_at
    from clipspace.world.scene import BACKGROUND_NAMES, is_held_out

    rng, kinds = np.random.default_rng(0), set()
    for i in range(300):
        scene = scene_at("train", i)
        said = choose_mentions(scene, rng, CaptionStyle(p_size=0.5, p_position=0.5, p_position_pair=0.5))
        full, plain, *falses = detail_choices(said, scene, rng)
        assert caption_matches_scene(full, scene) and caption_matches_scene(plain, scene) and falses
        assert not any(caption_matches_scene(f, scene) for f in falses)
        assert not any(is_held_out(m.color, m.shape) for c in (full, *falses) for m in c.objects)
        # they differ in one slot: said truly, unsaid, said with distinct false values
        cs = (full, plain, *falses)
        slots = [(k, a) for k in range(len(full.objects)) for a in ("size", "position", "color", "shape")
                 if len({getattr(c.objects[k], a) for c in cs}) > 1]
        slots += [(-1, "background")] if len({c.background for c in cs}) > 1 else []
        assert len(slots) == 1
        k, attr = slots[0]
        got = [c.background if k < 0 else getattr(c.objects[k], attr) for c in cs]
        assert got[1] is None and got[0] is not None and None not in got[2:] and len(set(got)) == len(got)
        if attr in ("position", "size", "background") and len(scene.objects) == 1:  # every other value is a lie
            assert len(falses) == len(BACKGROUND_NAMES if k < 0 else OPTIONS[attr]) - 1
        kinds.add(attr)
    assert kinds == {"size", "position", "color", "shape", "background"}
    wrong = choose_mentions(scene_at("train", 1), rng)
    assert detail_choices(wrong, scene_at("train", 0), rng) is None or caption_matches_scene(wrong, scene_at("train", 0))

    img = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    other = torch.nn.functional.normalize(torch.randn(2, 8), dim=-1)
    mid = (img + other) / 2
    ranked = torch.stack([img[0], mid[0], other[0], img[1], mid[1], other[1], other[1]])  # 3 and 4 choices
    wrong = torch.stack([other[0], mid[0], img[0], other[1], mid[1], img[1], other[1]])
    scale = torch.tensor(10.0)
    assert 0 < detail_loss(img, ranked, [3, 4], scale) < detail_loss(img, wrong, [3, 4], scale)
    # groups of different sizes are padded to the widest; the padding stays out of both softmaxes (finite loss)
    assert torch.isfinite(detail_loss(torch.cat([img, img[:1]]), torch.cat([ranked, ranked[:2]]), [3, 4, 2], scale))
