
import pytest
from transformers import PreTrainedTokenizerFast

from clipspace.models.tokenizer import build_tokenizer, caption_vocabulary, tokenize


@pytest.fixture(scope="module")
def tok():
    return build_tokenizer()


def test_vocabulary_round_trips(tok, tmp_path):
    words = caption_vocabulary()
    ids = tok(" ".join(words))["input_ids"]
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.unk_token_id not in ids
    assert tok.decode(ids[1:-1]) == " ".join(words)
    tok.save_pretrained(tmp_path)
    again = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    assert again(" ".join(words))["input_ids"] == ids


def test_special_ids(tok):
    assert tok.eos_token_id != 2  # transformers' legacy end-of-text rule
    assert len({tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id}) == 4


def test_user_text_never_crashes(tok):
    enc = tokenize(tok, ["A Small RED circle, on the left!!", "a zebra-striped hexagon", ""])
    ids = enc["input_ids"]
    assert ids[0].tolist()[:3] == [tok.bos_token_id, tok.convert_tokens_to_ids("a"), tok.convert_tokens_to_ids("small")]
    assert tok.unk_token_id in ids[1].tolist()
    assert ids[2].tolist()[:2] == [tok.bos_token_id, tok.eos_token_id]
    with pytest.warns(UserWarning, match="truncated"):
        long = tokenize(tok, ["red " * 100])
    assert long["input_ids"].shape[1] == tok.model_max_length
    assert long["input_ids"][0, -1].item() == tok.eos_token_id
