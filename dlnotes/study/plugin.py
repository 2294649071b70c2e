"""The ``dlnotes`` MkDocs plugin.

* publishes the vendored front-end assets (MathJax, Mermaid) so the site works offline;
* renders the tracker's items (questions, resources, plan chapters) with their status.

It never imports torch: the knowledge-base tooling stays independent of the learning
core.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mkdocs.config import config_options as c
from mkdocs.config.base import Config
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files

from dlnotes.study.assets import AssetError, vendor_assets

log = logging.getLogger("mkdocs.plugins.dlnotes")


class DlnotesConfig(Config):
    vendor_prefix = c.Type(str, default="assets/vendor")


class DlnotesPlugin(BasePlugin[DlnotesConfig]):
    def on_files(self, files: Files, /, *, config: Any) -> Files:
        root = Path(config.config_file_path).parent
        try:
            assets = vendor_assets(root, self.config.vendor_prefix)
        except AssetError as exc:
            raise PluginError(str(exc)) from exc
        for asset in assets:
            files.append(
                File.generated(config, asset.dest_uri, abs_src_path=str(asset.src))
            )
        log.debug("dlnotes: %d vendored asset files", len(assets))
        return files
