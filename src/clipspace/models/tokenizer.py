"""A word-level tokenizer over the caption vocabulary, as a transformers PreTrainedTokenizerFast.

Lower-cases, drops punctuation, maps unknown words to [UNK] and truncates over-long text with a
warning: it never fails on user text. Special ids: [PAD]=0 [UNK]=1 [BOS]=2 [EOS]=3 ([EOS] must not be
2, or transformers' CLIP finds the end of the text by a legacy argmax rule).
"""
from __future__ import annotations

import warnings

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.processors import TemplateProcessing
from transformers import PreTrainedTokenizerFast

from ..world.captions import (
    _EXTRA_POSITION_PHRASES,
    ARTICLES,
    BACKGROUND_WORDS,
    GENERIC_NOUNS,
    POSITION_PHRASES,
    RELATION_PHRASES,
    SHAPE_WORDS,
    SIZE_WORDS,
)
from ..world.scene import COLOR_NAMES

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[BOS]", "[EOS]")
MAX_LENGTH = 32


def caption_vocabulary() -> list[str]:
    """Every word the caption grammar (and the lenient parser) can produce, sorted."""
    words = set(ARTICLES) | set(COLOR_NAMES) | set(GENERIC_NOUNS) | {"background", "on"}
    for table in (SHAPE_WORDS, SIZE_WORDS, BACKGROUND_WORDS, POSITION_PHRASES, RELATION_PHRASES, _EXTRA_POSITION_PHRASES):
        for phrases in table.values():
            for p in phrases:
                words.update(p.split())
    return sorted(words)


def build_tokenizer(max_length: int = MAX_LENGTH) -> PreTrainedTokenizerFast:
    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    for w in caption_vocabulary():
        vocab[w] = len(vocab)
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Replace(Regex(r"[^a-z0-9\s]"), " ")])
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.post_processor = TemplateProcessing(single="[BOS] $A [EOS]", special_tokens=[("[BOS]", 2), ("[EOS]", 3)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="[BOS]", eos_token="[EOS]", pad_token="[PAD]", unk_token="[UNK]",
        model_max_length=max_length, padding_side="right",
    )


def tokenize(tokenizer: PreTrainedTokenizerFast, texts: list[str], max_length: int | None = None) -> dict:
    """Pad to the longest text; truncate (keeping [EOS]) with a warning past max_length."""
    max_length = max_length or tokenizer.model_max_length
    enc = tokenizer(list(texts), padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
    if enc["attention_mask"].sum(1).max().item() >= max_length:
        full = tokenizer(list(texts), truncation=False)["input_ids"]
        long = [t for t, ids in zip(texts, full) if len(ids) > max_length]
        if long:
            warnings.warn(f"{len(long)} text(s) longer than {max_length} tokens were truncated, e.g. {long[0][:60]!r}", stacklevel=2)
    return enc
