"""The `clipspace` command line (typer). Exit codes: 0 success, 2 bad input, 1 internal error."""
from __future__ import annotations

import sys

from . import analysis, caption, generate, train, world  # noqa: F401  (registers the commands)
from .common import app


def _expand_multi_value_options(argv: list[str], options=("--labels",)) -> list[str]:
    """Let `--labels a b c` mean `--labels a --labels b --labels c` (click options take one value each)."""
    out, current = [], None
    for arg in argv:
        if arg in options:
            current = arg
            continue
        if current is not None and not arg.startswith("-"):
            out += [current, arg]
            continue
        current = None
        out.append(arg)
    return out


def main() -> None:
    try:
        app(args=_expand_multi_value_options(sys.argv[1:]), prog_name="clipspace")
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)

