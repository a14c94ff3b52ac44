from clipspace.eval import bench
from tests.tiny import tiny_caption_lm, tiny_critic, tiny_generator


def test_bench_measures_generator_critic_and_caption_model(tmp_path, monkeypatch):
    tiny_generator().save_pretrained(tmp_path / "generator")
    tiny_critic().save_pretrained(tmp_path / "critic")
    tiny_caption_lm().save_pretrained(tmp_path / "caption-lm")
    monkeypatch.setenv("CLIPSPACE_ZOO", str(tmp_path))
    monkeypatch.setattr(bench, "_rate", lambda fn, n, min_time=2.0: (fn(), float(n))[1])  # run once, no timing
    out = bench.bench_generator(batch=4) | bench.bench_caption_lm(n=3)
    assert out == {"generator_images_per_s_batch64": 4.0, "critic_scores_per_s_batch64": 4.0, "caption_lm_captions_per_s_batch64": 3.0}
