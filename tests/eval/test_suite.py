from clipspace.eval.suite import available


def test_available_lists_a_method_only_when_the_zoo_holds_all_it_needs():
    assert available(["clip", "generator"]) == ["clip", "generator", "glass"]
    assert available(["clip", "generator", "critic", "caption-lm"]) == ["clip", "caption-lm", "generator", "glass", "glass-optimizers", "glass-caption"]
    assert "unclip" not in available(["clip", "prior"])
    assert available(["clip", "prior", "decoder"]) == ["clip", "unclip"]  # the upsampler is optional
    assert available(["oracle"]) == ["oracle"]
