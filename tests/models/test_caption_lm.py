import torch

from clipspace.models.caption_lm import CaptionLM, CaptionLMConfig


def test_tiny_caption_lm_scores_generates_and_round_trips(tmp_path):
    torch.manual_seed(0)
    lm = CaptionLM.from_config(CaptionLMConfig(hidden=16, layers=1, heads=2)).eval()
    lp = lm.log_prob(["a red circle", "a big blue star on a white background"])
    assert lp.shape == (2,) and (lp < 0).all()
    a = lm.sample(4, generator=torch.Generator().manual_seed(1))
    b = lm.sample(4, generator=torch.Generator().manual_seed(1))
    assert a == b and len(a) == 4  # seeded
    prefix = torch.tensor([[lm.tokenizer.bos_token_id, lm.tokenizer.convert_tokens_to_ids("a")]] * 2)
    ids = lm.generate_ids(prefix)
    assert ids.shape[1] <= lm.max_length and (ids[:, :2] == prefix).all()
    lm.save_pretrained(tmp_path / "lm", dtype=None)
    again = CaptionLM.from_pretrained(tmp_path / "lm")
    assert torch.allclose(again.log_prob(["a red circle"]), lp[:1], atol=1e-4)
    # greedy continuation is deterministic and matches between batch and single
    assert lm.continue_greedy(prefix[:1]) == lm.continue_greedy(prefix)[:1]
