from clipspace.eval.suite import available


def test_available_lists_a_method_only_when_the_zoo_holds_all_it_needs():
    assert available(["clip", "generator"]) == ["clip", "generator", "glass"]
    assert available(["clip", "generator", "critic", "caption-lm"]) == ["clip", "caption-lm", "generator", "glass", "glass-optimizers", "glass-caption"]
    assert "unclip" not in available(["clip", "prior"])
    assert available(["clip", "prior", "decoder"]) == ["clip", "unclip"]  # the upsampler is optional
    assert available(["oracle"]) == ["oracle"]


def test_report_strips_for_unclip_and_flow(tmp_path):
    from PIL import Image

    from clipspace.eval.suite import _strips, markdown
    from clipspace.pipelines.flow import FlowPipeline
    from clipspace.pipelines.unclip import UnclipPipeline
    from tests.tiny import tiny_clip, tiny_flow, tiny_generator, tiny_unclip_parts

    clip = tiny_clip()
    fast = dict(prior_steps=2, decoder_steps=2, upsampler_steps=2)

    class Fast(UnclipPipeline):  # the strips at the tiny models' speed
        def interpolate(self, a, b, **kw):
            return super().interpolate(a, b, **kw, **fast)

        def text_diff(self, image, source, target, **kw):
            return super().text_diff(image, source, target, **kw, **fast)

    for method, pipe in (("unclip", Fast(clip, *tiny_unclip_parts())), ("flow", FlowPipeline(tiny_generator(), clip, tiny_flow()))):
        res = _strips(pipe, method, str(tmp_path))
        sizes = {k: Image.open(v).size for k, v in res["strips"].items()}
        assert sizes["interpolation"][0] > 7 * 64 and sizes["text_diff"][0] > 5 * 64  # 8 and 6 images in a row
        assert f"![interpolation]({method}_interpolation.png)" in markdown({method: res})
