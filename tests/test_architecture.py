"""The architecture rules hold for every module of the package.

The rules are import-linter contracts in pyproject.toml: the learning core never
imports the tooling, the notes and the runner never import torch, only the site
imports mkdocs, and the tooling layers (cli > site > runner > kb) only import
downwards. This test runs them and checks that every module is covered: a new
top-level module must be placed on one side or the other.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support import ROOT

PACKAGE = ROOT / "dlnotes"
TOOLING = {"dlnotes.kb", "dlnotes.runner", "dlnotes.site", "dlnotes.cli"}
# package glue that belongs to neither side
GLUE = {"dlnotes.__init__", "dlnotes.__main__"}


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _top_level_modules() -> set[str]:
    names = set()
    for path in PACKAGE.iterdir():
        if path.suffix == ".py":
            names.add(f"dlnotes.{path.stem}")
        elif path.is_dir() and (path / "__init__.py").is_file():
            names.add(f"dlnotes.{path.name}")
    return names - GLUE


def test_every_module_is_core_or_tooling() -> None:
    core = set(_contracts()[0]["source_modules"])  # type: ignore[arg-type]
    modules = _top_level_modules()
    unplaced = sorted(modules - core - TOOLING)
    assert not unplaced, f"place these in a contract in pyproject.toml: {unplaced}"
    assert not core & TOOLING
    assert core <= modules, f"contracts name missing modules: {sorted(core - modules)}"


def test_tooling_never_imports_torch_or_mkdocs_outside_site() -> None:
    by_name = {c["name"]: c for c in _contracts()}
    torch_rule = next(c for name, c in by_name.items() if "torch" in name)
    assert {"dlnotes.kb", "dlnotes.runner"} <= set(torch_rule["source_modules"])  # type: ignore[call-overload]
    mkdocs_rule = by_name["Only dlnotes.site imports mkdocs"]
    mkdocs_free = set(mkdocs_rule["source_modules"])  # type: ignore[call-overload]
    assert _top_level_modules() - {"dlnotes.site"} == mkdocs_free


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [sys.executable, str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout
