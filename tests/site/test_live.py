"""The serve loop's pieces: warnings located at file:line, what a rebuild rebuilds."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

from mkdocs.structure.files import File, Files

from dlnotes.site.indexes import merge_search_index
from dlnotes.site.live import (
    DEFERRED_BATCH,
    LiveSite,
    Problem,
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


def test_a_nav_change_builds_changed_and_open_pages_now_the_rest_in_batches(
    tmp_path: Path,
) -> None:
    config, files = _site(tmp_path)
    docs = Path(config.docs_dir)
    for i in range(9):
        (docs / f"cnn/n{i}.md").write_text(f"# N{i}\n", "utf-8")
    live = LiveSite(dirty=True)
    assert len(live.plan(_files(config), config)) == 12 and live.full
    # a browser shows cnn/a (its livereload poll names it in the Referer), and
    # one showed the home page three minutes ago (closed since)
    live.viewed("/")
    live._viewed[""] -= 180
    live.viewed("/cnn/a/")
    # a new note: every page's navigation changes
    (docs / "inbox").mkdir()
    (docs / "inbox/新笔记.md").write_text("# 新笔记\n", "utf-8")
    files = _files(config)
    now = live.plan(files, config)
    assert set(now) == {"inbox/新笔记.md", "cnn/a.md"} and live.full
    assert _modified(files) == set(now) and not live.quiet
    assert len(live.deferred) == 11
    # the graph asks for a page it changed (backlinks): built now, not again later
    request_rebuild(files, ["cnn/n0.md"])
    assert live.built() == {"inbox/新笔记.md", "cnn/a.md", "cnn/n0.md"}
    assert len(live.deferred) == 10
    # nothing changed since: background builds of the rest, a batch at a time
    batch = live.plan(_files(config), config)
    assert len(batch) == DEFERRED_BATCH and live.quiet and not live.full
    assert len(live.deferred) == 10 - DEFERRED_BATCH
    # a save meanwhile goes first, alone; the rest waits
    (docs / "cnn/b.md").write_text("# B\n\n新的一句。\n", "utf-8")
    waiting = list(live.deferred)
    assert live.plan(_files(config), config) == ["cnn/b.md"] and not live.quiet
    assert live.deferred == [uri for uri in waiting if uri != "cnn/b.md"]
    # a browser opened a page still waiting: its batch reloads the browser
    live.viewed("/" + live.deferred[0].removesuffix(".md") + "/")
    built = live.plan(_files(config), config)
    assert len(built) == DEFERRED_BATCH and not live.quiet
    while live.deferred:
        built += live.plan(_files(config), config)
        assert live.quiet
    assert set(built) == set(waiting) - {"cnn/b.md"}
    assert live.plan(_files(config), config) == []


def test_a_page_with_warnings_is_built_at_once_after_a_nav_change(
    tmp_path: Path,
) -> None:
    config, files = _site(tmp_path)
    docs = Path(config.docs_dir)
    live = LiveSite(dirty=True)
    live.plan(files, config)
    # the last build warned about cnn/b.md (a link to a note not written yet)
    live.problems = [Problem("WARNING", "link to c.md", "cnn/b.md", 3)]
    config.theme = SimpleNamespace(custom_dir=None, get_env=lambda: None)
    live.start_build(config)
    (docs / "cnn/c.md").write_text("# C\n", "utf-8")
    assert set(live.plan(_files(config), config)) == {"cnn/c.md", "cnn/b.md"}


def test_pages_whose_background_work_finished_are_built_next(
    tmp_path: Path,
) -> None:
    config, files = _site(tmp_path)
    config.theme = SimpleNamespace(custom_dir=None, get_env=lambda: None)
    live = LiveSite(dirty=True)
    live.plan(files, config)
    live.ready("cnn/a.md")  # its outputs are in the cache now
    live.start_build(config)
    # finished while this build runs: the plugins may have seen it unfinished
    live.ready("cnn/b.md")
    assert live.has_ready()
    assert live.plan(_files(config), config) == ["cnn/a.md"]
    live.start_build(config)
    assert live.plan(_files(config), config) == ["cnn/b.md"]
    live.start_build(config)
    assert live.plan(_files(config), config) == [] and not live.has_ready()


def test_open_pages_by_url(tmp_path: Path) -> None:
    config, files = _site(tmp_path)
    (Path(config.docs_dir) / "inbox").mkdir()
    (Path(config.docs_dir) / "inbox/新笔记.md").write_text("# 新\n", "utf-8")
    files = _files(config)
    live = LiveSite(dirty=True)
    pages = list(files.documentation_pages())
    live.viewed("/")  # the home page's URL is "./" in MkDocs
    # a Referer is quoted; WSGI's PATH_INFO is UTF-8 read as Latin-1
    live.viewed("/inbox/%E6%96%B0%E7%AC%94%E8%AE%B0/")
    assert live._open(pages) == {"index.md", "inbox/新笔记.md"}
    live = LiveSite(dirty=True)
    live.viewed("/inbox/新笔记/".encode().decode("latin-1"))
    live.viewed("/cnn/b/index.html?x=1#top")
    assert live._open(pages) == {"inbox/新笔记.md", "cnn/b.md"}


def test_a_title_nav_yml_or_config_change(tmp_path: Path) -> None:
    config, files = _site(tmp_path)
    live = LiveSite(dirty=True)
    live.plan(files, config)
    docs = Path(config.docs_dir)
    # a title change renames the page in every page's navigation
    (docs / "cnn/b.md").write_text("# B 改名\n", "utf-8")
    assert live.plan(_files(config), config) == ["cnn/b.md"] and live.full
    assert set(live.deferred) == {"index.md", "cnn/a.md"}
    while live.deferred:
        live.plan(_files(config), config)
    # so does a .nav.yml
    (docs / "cnn/.nav.yml").write_text("nav:\n  - b.md\n", "utf-8")
    assert live.plan(_files(config), config) == [] and live.full
    assert len(live.deferred) == 3
    # mkdocs.yml can change how every page renders: all of them at once
    (tmp_path / "mkdocs.yml").write_text("site_name: t2\n", encoding="utf-8")
    assert len(live.plan(_files(config), config)) == 3 and live.deferred == []
    # without --dirty MkDocs builds every page anyway
    plain = LiveSite(dirty=False)
    plain.plan(_files(config), config)
    (docs / "cnn/d.md").write_text("# D\n", "utf-8")
    assert len(plain.plan(_files(config), config)) == 4 and plain.deferred == []


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


def test_the_search_index_after_a_dirty_build_of_several_pages(
    tmp_path: Path,
) -> None:
    from material.plugins.search.plugin import SearchIndex

    config, _ = _site(tmp_path)
    (Path(config.docs_dir) / "cnn/c.md").write_text("# C\n", "utf-8")
    files = _files(config)

    def entries(*urls: str) -> list[dict[str, str]]:
        found = []
        for url in urls:
            found += [
                {"location": url, "title": "old " + url},
                {"location": url + "#q", "title": "old q " + url},
            ]
        return found

    options = {"lang": ["zh"], "separator": " ", "pipeline": [], "fields": {}}
    prev = SearchIndex(**options)
    # the last index had a page since deleted
    prev.entries = entries("", "cnn/a/", "cnn/b/", "cnn/c/", "cnn/gone/")
    index = SearchIndex(**options)
    # this build rebuilt the home page and cnn/b (e.g. a note edit + backlinks)
    index.entries = [
        {"location": "", "title": "new home"},
        {"location": "cnn/b/", "title": "new b"},
    ]
    search = SimpleNamespace(search_index_prev=prev, search_index=index)
    config.plugins = {"material/search": search}
    merge_search_index(config, files, {"index.md", "cnn/b.md"})
    data = json.loads(index.generate_search_index(search.search_index_prev))
    titles = sorted(e["title"] for e in data["docs"])
    # Material alone kept only what did not start with "" (the home page's URL):
    # every other page's entries were gone from search until rebuilt
    kept = ["old cnn/a/", "old q cnn/a/", "old cnn/c/", "old q cnn/c/"]
    assert titles == sorted(["new home", "new b", *kept])


def test_the_home_page_keeps_its_search_entries_when_not_rebuilt(
    tmp_path: Path,
) -> None:
    from material.plugins.search.plugin import SearchIndex

    config, files = _site(tmp_path)
    options = {"lang": ["zh"], "separator": " ", "pipeline": [], "fields": {}}
    prev = SearchIndex(**options)
    # MkDocs' Page.url of the home page is "" (its File.url is "./")
    prev.entries = [{"location": "", "title": "home"}, {"location": "cnn/a/"}]
    index = SearchIndex(**options)
    index.entries = [{"location": "cnn/a/", "title": "new a"}]
    search = SimpleNamespace(search_index_prev=prev, search_index=index)
    config.plugins = {"material/search": search}
    merge_search_index(config, files, {"cnn/a.md"})
    assert [e.get("title") for e in index.entries] == ["home", "new a"]
