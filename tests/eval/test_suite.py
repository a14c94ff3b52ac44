from clipspace.eval.suite import available


def test_available_lists_a_method_only_when_the_zoo_holds_all_it_needs():
    assert available(["clip", "generator"]) == ["clip", "generator", "glass"]
    assert "unclip" not in available(["clip", "prior", "decoder"])
    assert available(["clip", "prior", "decoder", "upsampler"]) == ["clip", "unclip"]
    assert available(["oracle"]) == ["oracle"]
