"""Tiny random components for fast pipeline and search tests."""
import torch

from clipspace.models.caption_lm import CaptionLM, CaptionLMConfig
from clipspace.models.clip import ClipSpace, ClipSpaceConfig
from clipspace.models.critic import Critic, CriticConfig
from clipspace.models.generator import Generator, GeneratorConfig


def tiny_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    g = Generator(GeneratorConfig(w_dim=8, channels=(8, 8, 8, 8, 8), encoder_channels=(4, 4, 4, 4), num_clusters=4))
    g.mapping.means.normal_()
    return g.eval()


def tiny_clip(seed: int = 0) -> ClipSpace:
    torch.manual_seed(seed)
    cfg = ClipSpaceConfig(vision_hidden=32, vision_layers=1, text_hidden=32, text_layers=1, heads=2, projection_dim=16)
    return ClipSpace.from_config(cfg).eval()


def tiny_critic(seed: int = 0) -> Critic:
    torch.manual_seed(seed)
    return Critic(CriticConfig(channels=(4, 4, 4, 4))).eval()


def tiny_caption_lm(seed: int = 0) -> CaptionLM:
    torch.manual_seed(seed)
    return CaptionLM.from_config(CaptionLMConfig(hidden=16, layers=1, heads=2)).eval()
