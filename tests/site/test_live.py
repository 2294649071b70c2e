"""The serve loop's pieces: warnings located at file:line, what a rebuild rebuilds."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

from mkdocs.structure.files import File, Files

from dlnotes.site.live import (
    LiveSite,
    locate,
    request_rebuild,
    snippet_paths,
    source_title,
)


def test_locate_finds_the_line_of_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "cnn").mkdir()
    (tmp_path / "cnn/a.md").write_text(
        "# A\n\n正文。\n\n见 [坏链接](../nosuch.md#x)。\n", encoding="utf-8"
    )
    msg = (
        "Doc file 'cnn/a.md' contains a link '../nosuch.md#x', but the target "
        "'nosuch.md' is not found among documentation files."
    )
    assert locate(msg, tmp_path) == ("cnn/a.md", 5)
    anchor = (
        "Doc file 'cnn/a.md' contains a link '#missing', but there is no such "
        "anchor on this page."
    )
    assert locate(anchor, tmp_path) == ("cnn/a.md", 0)
    assert locate("Config value 'x': unknown", tmp_path) == ("", 0)
    # the dlnotes plugins' own form: docs/page.md:LINE
    docs = tmp_path.name
    assert locate(f"{docs}/cnn/a.md:3: unresolved [[x]]", tmp_path) == ("cnn/a.md", 3)
    assert locate(f"dlnotes-outputs: {docs}/cnn/a.md:5 raised", tmp_path) == (
        "cnn/a.md",
        5,
    )


def test_snippet_paths_and_titles() -> None:
    md = (
        '--8<-- "dlnotes/numpy/pool.py:max-pool2d"\n'
        "  --8<-- 'dlnotes/numpy/conv.py'\n"
        "```\n不是 --8<-- 的一行\n```\n"
    )
    assert snippet_paths(md) == ["dlnotes/numpy/pool.py", "dlnotes/numpy/conv.py"]
    assert source_title("---\ntitle: 元标题\n---\n# H1\n") == "元标题"
    assert source_title("前言\n\n# 池化 #\n") == "池化"
    assert source_title("```\n# 代码里的注释\n```\n## 二级\n# 标题\n") == "标题"


def _site(tmp_path: Path) -> tuple[SimpleNamespace, Files]:
    docs = tmp_path / "docs"
    (docs / "cnn").mkdir(parents=True)
    (tmp_path / "pkg.py").write_text("# --8<-- [start:f]\nx = 1\n# --8<-- [end:f]\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: t\n", encoding="utf-8")
    (docs / "index.md").write_text("# 首页\n", encoding="utf-8")
    (docs / "cnn/a.md").write_text('# A\n\n--8<-- "pkg.py:f"\n', encoding="utf-8")
    (docs / "cnn/b.md").write_text("# B\n", encoding="utf-8")
    config = SimpleNamespace(
        docs_dir=str(docs),
        site_dir=str(tmp_path / "site"),
        use_directory_urls=True,
        config_file_path=str(tmp_path / "mkdocs.yml"),
    )
    return config, _files(config)


def _files(config: SimpleNamespace) -> Files:
    docs = Path(config.docs_dir)
    return Files(
        [
            File(p.relative_to(docs).as_posix(), str(docs), config.site_dir, True)
            for p in sorted(docs.rglob("*.md"))
        ]
    )


def _modified(files: Files) -> set[str]:
    return {f.src_uri for f in files.documentation_pages() if f.is_modified()}


def test_plan_rebuilds_changed_pages_their_snippets_and_requests(
    tmp_path: Path,
) -> None:
    config, files = _site(tmp_path)
    live = LiveSite(dirty=True)
    assert set(live.plan(files, config)) == {"index.md", "cnn/a.md", "cnn/b.md"}
    assert live.full

    files = _files(config)
    assert live.plan(files, config) == [] and _modified(files) == set()

    (Path(config.docs_dir) / "cnn/b.md").write_text("# B\n\n新的一句。\n", "utf-8")
    files = _files(config)
    assert live.plan(files, config) == ["cnn/b.md"] and not live.full
    assert _modified(files) == {"cnn/b.md"}
    assert request_rebuild(files, ["index.md", "nosuch.md"]) == 1
    assert _modified(files) == {"cnn/b.md", "index.md"}

    # the module a page embeds changed: that page only
    (tmp_path / "pkg.py").write_text("# --8<-- [start:f]\nx = 2\n# --8<-- [end:f]\n")
    files = _files(config)
    assert live.plan(files, config) == ["cnn/a.md"]


def test_plan_rebuilds_everything_when_the_nav_changes(tmp_path: Path) -> None:
    config, files = _site(tmp_path)
    live = LiveSite(dirty=True)
    live.plan(files, config)
    docs = Path(config.docs_dir)
    # a title change renames the page in every page's navigation
    (docs / "cnn/b.md").write_text("# B 改名\n", "utf-8")
    files = _files(config)
    assert len(live.plan(files, config)) == 3 and live.full
    # so does a new page
    (docs / "cnn/c.md").write_text("# C\n", "utf-8")
    files = _files(config)
    assert len(live.plan(files, config)) == 4 and live.full
    # and a .nav.yml
    live.plan(_files(config), config)
    (docs / "cnn/.nav.yml").write_text("nav:\n  - c.md\n", "utf-8")
    assert len(live.plan(_files(config), config)) == 4


def test_warnings_are_kept_with_their_location_and_strict_is_off(
    tmp_path: Path,
) -> None:
    config, _ = _site(tmp_path)
    config.strict = True
    config.theme = SimpleNamespace(custom_dir=None, get_env=lambda: None)
    docs = Path(config.docs_dir)
    (docs / "cnn/b.md").write_text("# B\n\n[x](nosuch.md)\n", "utf-8")
    logger = logging.getLogger("mkdocs")
    handler = logging.StreamHandler()
    logger.addHandler(handler)
    from mkdocs.utils import CountHandler

    counter = CountHandler()
    logger.addHandler(counter)
    try:
        live = LiveSite(dirty=True)
        live.start_build(config)
        assert config.strict is False and counter not in logger.handlers
        logging.getLogger("mkdocs.structure.pages").warning(
            "Doc file 'cnn/b.md' contains a link 'nosuch.md', but the target is "
            "not found among documentation files."
        )
        live.write_status(config.site_dir)
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(counter)
        if live._filter is not None:
            handler.removeFilter(live._filter)
    (problem,) = live.problems
    assert problem.where == "docs/cnn/b.md:3"
    status = (Path(config.site_dir) / "__dlnotes/status.json").read_text("utf-8")
    assert '"where": "docs/cnn/b.md:3"' in status
