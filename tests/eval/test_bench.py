from clipspace.eval import bench
from tests.tiny import tiny_caption_lm, tiny_clip, tiny_critic, tiny_generator


def test_bench_measures_generator_critic_caption_model_and_captioning(tmp_path, monkeypatch):
    tiny_generator().save_pretrained(tmp_path / "generator")
    tiny_clip().save_pretrained(tmp_path / "clip")
    tiny_critic().save_pretrained(tmp_path / "critic")
    tiny_caption_lm().save_pretrained(tmp_path / "caption-lm")
    monkeypatch.setenv("CLIPSPACE_ZOO", str(tmp_path))
    monkeypatch.setattr(bench, "_rate", lambda fn, n, min_time=2.0: (fn(), float(n))[1])  # run once, no timing
    out = bench.bench_generator(batch=4) | bench.bench_caption_lm(n=3) | bench.bench_glass_caption(n=2)
    assert out == {"generator_images_per_s_batch64": 4.0, "critic_scores_per_s_batch64": 4.0, "caption_lm_captions_per_s_batch64": 3.0,
                   "glass_caption_s_per_image": 0.5}


def test_bench_times_flow_and_unclip_per_image(tmp_path, monkeypatch):
    from clipspace.pipelines.flow import FlowPipeline
    from clipspace.pipelines.unclip import UnclipPipeline
    from tests.tiny import tiny_clip, tiny_flow, tiny_unclip_parts

    clip = tiny_clip()
    FlowPipeline(tiny_generator(), clip, tiny_flow()).save_pretrained(tmp_path)
    UnclipPipeline(clip, *tiny_unclip_parts()).save_pretrained(tmp_path)
    monkeypatch.setenv("CLIPSPACE_ZOO", str(tmp_path))
    calls = []
    monkeypatch.setattr(bench, "_rate", lambda fn, n, min_time=2.0: (calls.append(len(getattr(out := fn(), "images", out))), 4.0 * n)[1])  # run once: 4 n per second
    out = bench.bench_flow(batch=4) | bench.bench_unclip(batch=2)
    assert calls == [4, 4, 4, 2]  # flow's images (without and with scores) and the generator's at batch 4, unCLIP's at 2
    assert out == {"flow_ms_per_image_batch64": 62.5, "flow_with_clip_scores_ms_per_image_batch64": 62.5, "generator_ms_per_image_batch64": 62.5,
                   "flow_over_generator": 1.0, "unclip_ms_per_image_batch16": 125.0}
