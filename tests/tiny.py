"""Tiny random components for fast pipeline and search tests."""
import torch

from clipspace.models.caption_lm import CaptionLM, CaptionLMConfig
from clipspace.models.clip import ClipSpace, ClipSpaceConfig
from clipspace.models.critic import Critic, CriticConfig
from clipspace.models.generator import W_DIM, Generator, GeneratorConfig


def tiny_generator(seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    g = Generator(GeneratorConfig(hidden=8, layers=1, frequencies=2, sprite_size=8, encoder_channels=(4, 4, 4, 4), num_clusters=4))
    from clipspace.models.generator import scene_to_w
    from clipspace.world.datasets import scene_at

    g.mapping.means.copy_(torch.stack([torch.from_numpy(scene_to_w(scene_at("val", i))) for i in range(len(g.mapping.means))]))
    g.mapping.scale_tril.mul_(0.1)  # clusters around real scene codes: every sample draws objects
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


def tiny_flow(seed: int = 0):
    from clipspace.models.flow import ClipFlow, FlowConfig

    torch.manual_seed(seed)
    flow = ClipFlow(FlowConfig(w_dim=W_DIM, cond_dim=16, blocks=2, hidden=16, reflections=2, aligner_hidden=8))
    flow(torch.randn(64, W_DIM), torch.nn.functional.normalize(torch.randn(64, 16), dim=-1))  # ActNorm init
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return flow.eval()


def tiny_regressor(seed: int = 0):
    from clipspace.models.flow import RegressorConfig, WRegressor

    torch.manual_seed(seed)
    return WRegressor(RegressorConfig(w_dim=W_DIM, cond_dim=16, hidden=16)).eval()


def tiny_unclip_parts(seed: int = 0):
    from clipspace.models.decoder import Decoder, DecoderConfig, Upsampler, UpsamplerConfig
    from clipspace.models.prior import DiffusionPrior, PriorConfig

    torch.manual_seed(seed)
    prior = DiffusionPrior(PriorConfig(embed_dim=16, text_hidden=32, max_length=32, layers=1, heads=2, head_dim=8)).eval()
    decoder = Decoder(DecoderConfig(embed_dim=16, size=32, channels=(8, 16), context_tokens=2, head_dim=8)).eval()
    upsampler = Upsampler(UpsamplerConfig(channels=(8, 8))).eval()
    return prior, decoder, upsampler
