"""The Shapes world: procedural scenes, their renderer, captions and seeded datasets."""
from .captions import (
    CaptionParseError,
    CaptionStyle,
    ObjectMention,
    ParsedCaption,
    caption_matches_scene,
    caption_scene,
    parse_caption,
)
from .render import render
from .scene import (
    ALL_PAIRS,
    BACKGROUND_NAMES,
    COLOR_NAMES,
    HELD_OUT_PAIRS,
    POSITIONS,
    SHAPES,
    SIZE_NAMES,
    Scene,
    SceneObject,
    is_held_out,
    sample_scene,
)

__all__ = [
    "ALL_PAIRS", "BACKGROUND_NAMES", "COLOR_NAMES", "HELD_OUT_PAIRS", "POSITIONS", "SHAPES", "SIZE_NAMES",
    "Scene", "SceneObject", "is_held_out", "sample_scene", "render", "CaptionStyle", "caption_scene",
    "parse_caption", "ParsedCaption", "ObjectMention", "CaptionParseError", "caption_matches_scene",
]
