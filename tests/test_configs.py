"""Every shipped training config loads into its trainer's config class (no stale or misspelt keys)."""
import json
import re
from pathlib import Path

import pytest

from clipspace.train.common import load_train_config

CONFIGS = sorted(Path(__file__).resolve().parents[1].joinpath("configs").rglob("*.json"))


def _config_class(path: Path):
    name = path.stem
    if name == "oracle":
        from clipspace.train.oracle import OracleTrainConfig as C
    elif name.startswith("clip"):
        from clipspace.train.clip import ClipTrainConfig as C
    elif name.startswith("caption-lm"):
        from clipspace.train.caption_lm import CaptionLMTrainConfig as C
    elif name == "generator":
        from clipspace.train.generator import GeneratorTrainConfig as C
    elif name == "flow":
        from clipspace.train.flow import FlowTrainConfig as C
    else:
        from clipspace.train.unclip import UnclipTrainConfig as C
    return C


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(p.parents[1])) if p.parent.name != "configs" else p.stem for p in CONFIGS])
def test_config_loads(path):
    cfg = load_train_config(_config_class(path), path)
    raw = json.loads(path.read_text())
    assert cfg.export_dir == raw["export_dir"] and cfg.export_dir.startswith("zoo/")
    if hasattr(cfg, "component"):  # decoder-detail-v2.json: a fine-tune stage of zoo/decoder-detail, a decoder
        zoo_name = Path(cfg.export_dir).name
        assert path.stem.startswith(zoo_name) and cfg.component == zoo_name.removesuffix("-detail")
    if cfg.__class__.__name__ != "OracleTrainConfig" and hasattr(cfg, "init_from") and cfg.init_from:
        assert cfg.init_from.startswith("zoo/")


def test_there_are_configs():
    assert len(CONFIGS) >= 10


def _model_classes(name: str):
    from clipspace.models import caption_lm, clip, critic, decoder, flow, generator, oracle, prior, prior_ar

    return {
        "oracle": [("model", oracle.OracleConfig)], "clip": [("model", clip.ClipSpaceConfig)],
        "clip-eval": [("model", clip.ClipSpaceConfig)], "clip-caption": [("model", clip.ClipSpaceConfig)], "caption-lm": [("model", caption_lm.CaptionLMConfig)],
        "generator": [("model", generator.GeneratorConfig), ("critic", critic.CriticConfig)],
        "flow": [("model", flow.FlowConfig)], "prior": [("model", prior.PriorConfig)],
        "prior-ar": [("model", prior_ar.ARPriorConfig)], "decoder": [("model", decoder.DecoderConfig)],
        "upsampler": [("model", decoder.UpsamplerConfig)],
    }[name]


@pytest.mark.parametrize("path", CONFIGS, ids=[str(p.relative_to(p.parents[1])) if p.parent.name != "configs" else p.stem for p in CONFIGS])
def test_model_sections_match_model_configs(path):
    raw = json.loads(path.read_text())
    for key, cls in _model_classes(re.sub(r"(-detail)?(-v\d*|-ft|-bind)?$", "", path.stem)):
        cls(**raw.get(key) or {})  # a misspelt key raises TypeError
