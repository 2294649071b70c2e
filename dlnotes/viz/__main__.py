"""Draw figures: ``python -m dlnotes.viz NAME[:THEME]=PATH.png ...`` (light/dark).

The ``dlnotes-figures`` MkDocs plugin runs this in a fresh interpreter under
``mkdocs serve`` so that a figure is drawn with the code as it is now on disk.
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlnotes.viz import load_all, render


def main(argv: list[str]) -> int:
    if not argv or any("=" not in a for a in argv):
        print("usage: python -m dlnotes.viz NAME[:light|dark]=PATH.png ...")
        return 2
    known = load_all()
    jobs: list[tuple[str, str, Path]] = []
    for arg in argv:
        spec, target = arg.split("=", 1)
        name, _, theme = spec.partition(":")
        jobs.append((name, theme or "light", Path(target)))
    unknown = [name for name, _, _ in jobs if name not in known]
    bad = [theme for _, theme, _ in jobs if theme not in ("light", "dark")]
    if unknown or bad:
        what = ", ".join(unknown + bad)
        print(f"error: unknown figure(s) or theme(s): {what}", file=sys.stderr)
        return 2
    for name, theme, png in jobs:
        render(name, png, theme=theme)  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
