"""GLaSS search: latent spaces, CLIP targets, the problem, and optimisers over it."""
from .latents import LATENT_SPACES, LatentSpace
from .optimizers import OPTIMIZERS, SearchConfig, SearchResult, run_search
from .problem import GlassProblem
from .target import ClipTarget, augment, clip_fitness

__all__ = [
    "LATENT_SPACES", "LatentSpace", "OPTIMIZERS", "SearchConfig", "SearchResult", "run_search", "GlassProblem",
    "ClipTarget", "augment", "clip_fitness",
]
