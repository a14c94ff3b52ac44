"""The losses of zoo CLIP training: symmetric InfoNCE with hard negatives, fixed-readout bag-of-words and
bag-of-bound-pairs losses, and the detail ranking of captioning CLIPs."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.clip import ClipSpace
from ..world.captions import ParsedCaption
from ..world.scene import COLOR_NAMES, SHAPES


def contrastive_loss(
    img: torch.Tensor, txt: torch.Tensor, neg: torch.Tensor | None, scale: torch.Tensor, mask: torch.Tensor | None,
    neg_img: torch.Tensor | None = None, neg_img_owner: torch.Tensor | None = None,
) -> torch.Tensor:
    """Symmetric InfoNCE; `mask[i, j]` removes caption j (true of image i too) from both softmaxes. `neg` are
    hard-negative captions for every image; `neg_img[k]` is a hard-negative image for caption `neg_img_owner[k]` only."""
    logits = scale * img @ txt.T  # (B, B)
    if mask is not None:
        logits = logits.masked_fill(mask, float("-inf"))
    target = torch.arange(len(img), device=img.device)
    i2t = logits if neg is None else torch.cat([logits, scale * img @ neg.T], dim=1)
    t2i = logits.T
    if neg_img is not None and len(neg_img):
        own = torch.full((len(txt), len(neg_img)), float("-inf"), device=img.device)
        cols = torch.arange(len(neg_img), device=img.device)
        own[neg_img_owner, cols] = scale * (txt[neg_img_owner] * neg_img).sum(-1)
        t2i = torch.cat([t2i, own], dim=1)
    return (F.cross_entropy(i2t, target) + F.cross_entropy(t2i, target)) / 2


class WordReadout(torch.nn.Module):
    """Training-only readout: one logit per vocabulary word from an embedding, for a bag-of-words loss.

    Pure contrast leaves position at a symmetric saddle: no embedding tells "top" from "bottom", so no
    gradient asks one to. A learned word head shares the symmetry (its "top" and "bottom" rows get equal
    gradients while the embeddings agree; measured: position crept from 0.19 to 0.33 in 1,500 steps).
    Here the rows are fixed random orthonormal directions, different for every word, so predicting "top"
    rather than "bottom" is a first-order signal to both encoders. Only per-word biases are learned.
    """

    def __init__(self, dim: int, vocab: int, scale: float = 10.0, seed: int = 0):
        super().__init__()
        weight = torch.nn.init.orthogonal_(torch.empty(vocab, dim), generator=torch.Generator().manual_seed(seed))
        self.register_buffer("weight", scale * weight)
        self.bias = torch.nn.Parameter(torch.zeros(vocab))

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        return emb @ self.weight.T + self.bias


def bag_of_words(clip: ClipSpace, texts: list[str]) -> torch.Tensor:
    """(N, vocab) 0/1: which words each text contains."""
    out = torch.zeros(len(texts), len(clip.tokenizer))
    for row, ids in enumerate(clip.tokenizer(texts, add_special_tokens=False)["input_ids"]):
        out[row, ids] = 1.0
    return out


PAIRS = [(c, s) for c in COLOR_NAMES for s in SHAPES]
_PAIR_INDEX = {p: i for i, p in enumerate(PAIRS)}


def bound_pairs(said: list[ParsedCaption]) -> torch.Tensor:
    """(N, 40) 0/1: which color-shape pairs each caption names on one object. Captions never name a held-out
    pair, so those rows of the readout are never a target (for images either: the target is what the caption says)."""
    out = torch.zeros(len(said), len(PAIRS))
    for row, m in enumerate(said):
        for o in m.objects:
            if o.color and o.shape:
                out[row, _PAIR_INDEX[(o.color, o.shape)]] = 1.0
    return out


def word_loss(logits: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over the vocabulary, averaged over texts."""
    return F.binary_cross_entropy_with_logits(logits, words, reduction="sum") / len(words)


def detail_loss(img: torch.Tensor, emb: torch.Tensor, sizes: list[int], scale: torch.Tensor) -> torch.Tensor:
    """Plackett-Luce over each image's detail choices (see detail_choices): `emb` holds image i's [fuller, plain,
    false, ...] captions, sizes[i] rows, image after image. The fuller caption first, then the plain one above every
    false one: a true word must raise the score, a false one lower it below saying nothing."""
    n, width = len(sizes), max(sizes)
    counts = torch.tensor(sizes, device=img.device)
    owner = torch.repeat_interleave(torch.arange(n, device=img.device), counts)
    slot = torch.arange(len(emb), device=img.device) - (torch.cumsum(counts, 0) - counts)[owner]
    s = torch.full((n, width), -1e4, device=img.device, dtype=emb.dtype)
    s = s.index_put((owner, slot), scale * (img[owner] * emb).sum(-1))
    first = torch.zeros(n, dtype=torch.long, device=img.device)
    return F.cross_entropy(s, first) + F.cross_entropy(s[:, 1:], first)
