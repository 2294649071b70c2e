"""Theme work MkDocs repeats at every ``mkdocs serve`` rebuild, done once.

Used by :class:`dlnotes.site.live.LiveSite`: compiled Jinja templates are kept in
memory (:class:`TemplateCache`) and the installed theme's file list is walked once
(:class:`ThemeFiles`).
"""

from __future__ import annotations

import os
from typing import Any

from jinja2 import FileSystemLoader
from jinja2.bccache import Bucket, BytecodeCache


class TemplateCache(BytecodeCache):
    """Compiled Jinja templates kept in memory across rebuilds.

    MkDocs makes a new Jinja environment at every build, so the theme's templates
    are compiled again each time (~1 s); Jinja checks each entry against the
    template's source, so an edited template is compiled afresh.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


def _theme_names(root: str) -> list[str]:
    """What ``FileSystemLoader.list_templates`` finds below ``root``, less dot-files.

    MkDocs drops dot-files and dot-folders from the theme's files anyway; Material
    ships ~14,000 icons under ``.icons/``, which it would otherwise walk and filter at
    every build.
    """
    names: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            if name.startswith("."):
                continue
            path = name if rel == "." else f"{rel}/{name}"
            names.append(path.replace(os.sep, "/"))
    return names


class ThemeFiles:
    """The theme's file list, walked once per ``mkdocs serve`` (not per rebuild).

    The installed theme does not change while serving; the project's ``custom_dir``
    (inside ``docs/``, watched) is walked at every build.
    """

    def __init__(self) -> None:
        self._names: dict[str, list[str]] = {}

    def patch(self, theme: Any) -> None:
        get_env = theme.get_env
        custom = {os.path.normpath(theme.custom_dir)} if theme.custom_dir else set()

        def patched_get_env() -> Any:
            env = get_env()
            loader = env.loader
            if not isinstance(loader, FileSystemLoader):
                return env

            def list_templates() -> list[str]:
                found: set[str] = set()
                for root in loader.searchpath:
                    root = os.path.normpath(root)
                    if root in custom:
                        found.update(_theme_names(root))
                    else:
                        if root not in self._names:
                            self._names[root] = _theme_names(root)
                        found.update(self._names[root])
                return sorted(found)

            loader.list_templates = list_templates  # type: ignore[method-assign]
            return env

        theme.get_env = patched_get_env
