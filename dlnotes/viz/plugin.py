"""MkDocs plugin ``dlnotes-figures``: renders the package's figures into the site.

PNGs are cached under ``.cache/figures/<hash>/`` where the hash covers every ``.py``
file of the ``dlnotes`` package, so a change to the code re-draws the figures and a
rebuild with nothing changed draws nothing.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.plugins.dlnotes.figures")

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def source_hash(root: Path = PACKAGE_DIR) -> str:
    """SHA-256 over the paths and bytes of every ``.py`` file below ``root``."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


class FiguresConfig(Config):
    cache_dir = c.Type(str, default=".cache/figures")
    dest = c.Type(str, default="assets/figures")


class FiguresPlugin(BasePlugin[FiguresConfig]):
    def on_files(self, files: Files, /, *, config: Any) -> Files:
        from dlnotes import viz

        figures = viz.load_all()
        root = Path(config.config_file_path).parent
        cache = root / self.config.cache_dir / source_hash()
        drawn = 0
        for name in sorted(figures):
            png = cache / f"{name}.png"
            if not png.exists():
                viz.render(name, png)
                drawn += 1
            files.append(
                File.generated(
                    config, f"{self.config.dest}/{name}.png", abs_src_path=str(png)
                )
            )
        log.info("dlnotes-figures: %d figures (%d drawn, cache %s)",
                 len(figures), drawn, cache)
        return files
