import numpy as np
import torch

from clipspace.search.text import _lm_prefixes, prefix_search
from tests.tiny import tiny_caption_lm, tiny_clip


def _first_word(lm) -> int:
    tok = lm.tokenizer
    return max(tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) + 1


def test_lm_prefixes_are_seeded_words():
    lm = tiny_caption_lm()
    a = _lm_prefixes(lm, 16, 3, _first_word(lm), seed=0)
    assert a.shape == (16, 3) and a.dtype.kind == "i"
    assert (a >= _first_word(lm)).all() and (a < lm.vocab_size).all()
    assert np.array_equal(a, _lm_prefixes(lm, 16, 3, _first_word(lm), seed=0))
    assert not np.array_equal(a, _lm_prefixes(lm, 16, 3, _first_word(lm), seed=1))


def test_prefix_search_from_either_start_returns_ranked_captions():
    lm, clip = tiny_caption_lm(), tiny_clip()
    emb = clip.encode_image(torch.rand(1, 3, 64, 64))[0]
    for lm_start in (True, False):
        r = prefix_search(lm, clip, emb, population=8, generations=2, seed=0, lm_start=lm_start)
        assert len(r.captions) == 3 and r.scores == sorted(r.scores, reverse=True)
        assert len(r.history) == 2 and r.history[-1] >= r.history[0]
