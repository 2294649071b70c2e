"""Site rendering: badges, anchors MkDocs validates, and the generated progress page."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import markdown
import pytest

from dlnotes.kb.notes import KnowledgeBase
from dlnotes.kb.progress import compute_progress
from dlnotes.kb.render import render_html, render_markdown


def test_render_question_resource_and_chapter_lines() -> None:
    md = (
        "- [x] 为什么？ #Q-cnn-02 ✅ 2026-11-22\r\n\r\n    答案。\r\n"
        "    - [/] [CS231n](https://cs231n.github.io/)\r\n"
        "* [ ] 第 1 章 介绍\r\n"
        "```\r\n- [ ] 代码 #Q-cnn-99\r\n```\r\n"
    )
    step1 = render_markdown(md, "cnn/a.md")
    lines = step1.split("\r\n")
    assert lines[1:3] == ["", "    答案。"]  # the answer stays below the question
    assert lines[6] == "- [ ] 代码 #Q-cnn-99"  # code is left alone
    html, anchors = render_html(
        markdown.markdown(step1, extensions=["pymdownx.superfences"])
    )
    assert anchors == {"q-cnn-02"}
    assert (
        '<li>\n<p><span class="dl-badge dl-resolved">已解决</span> 为什么？ '
        '<a class="dl-qid" href="#q-cnn-02" id="q-cnn-02">Q-cnn-02</a> '
        '<span class="dl-date">✅ 2026-11-22</span> '
        '<span class="dl-ctl" data-search-exclude data-dl-kind="question" '
        'data-dl-id="Q-cnn-02" data-dl-status="resolved">'
        '<code class="dl-cli" title="在终端运行">dlnotes reopen Q-cnn-02</code>'
        "</span></p>\n<p>答案。"
    ) in html
    assert '<span class="dl-badge dl-read">已读</span> <a href="https://cs231n' in html
    assert "dlnotes digest r-" in html
    assert '<span class="dl-badge dl-todo">未开始</span> 第 1 章 介绍' in html
    assert "dlnotes plan start c-" in html
    assert "- [ ] 代码 #Q-cnn-99" in html
    assert "\ue000" not in html and "\ue001" not in html


def _build(site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=site,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _numbers(cells: list[str]) -> list[tuple[int, int]]:
    found = []
    for cell in cells:
        m = re.search(r'value="(\d+)" max="(\d+)"', cell)
        found.append((int(m[1]), int(m[2])) if m else (0, 0))
    return found


# Icon-font glyphs (private use U+E000, U+E001) copied with a prompt, and text
# shaped like the renderer's tokens: text like any other, never a crash or a control.
ICONS = (
    "# 图标\n\n"
    "复制来的提示词 \ue000 \ue001 \ue000x\ue001 \ue000q|Q-cnn-01|open|\ue001\n\n"
    "- [ ] 图标 \ue000\ue001 是什么？ #Q-cnn-50\n"
)


def test_the_site_shows_status_and_validates_question_anchors(site: Path) -> None:
    (site / "docs/cnn/icons.md").write_text(ICONS, encoding="utf-8")
    proc = _build(site)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "WARNING" not in proc.stderr
    icons = (site / "site/cnn/icons/index.html").read_text(encoding="utf-8")
    assert (
        "复制来的提示词 \ue000 \ue001 \ue000x\ue001 \ue000q|Q-cnn-01|open|\ue001"
        in icons
    )
    assert icons.count('class="dl-ctl"') == 1  # only Q-cnn-50's
    assert '图标 \ue000\ue001 是什么？ <a class="dl-qid"' in icons
    html = (site / "site/cnn/sharing/index.html").read_text(encoding="utf-8")
    assert '<a class="dl-qid" href="#q-cnn-01" id="q-cnn-01">Q-cnn-01</a>' in html
    assert html.count('<span class="dl-badge dl-open">待解决</span>') == 2
    assert html.count('<span class="dl-badge dl-resolved">已解决</span>') == 1
    assert '<span class="dl-date">✅ 2026-11-22</span>' in html
    assert '<span class="dl-badge dl-todo">未读</span>' in html
    assert '<span class="dl-badge dl-read">已读</span>' in html
    assert "dlnotes resolve Q-cnn-01" in html  # static site: the command to run
    assert "__dlnotes__" not in html  # no serve-mode script or token
    index = (site / "site/index.html").read_text(encoding="utf-8")
    assert 'href="cnn/sharing/#q-cnn-01"' in index
    assert '<span class="dl-badge dl-doing">进行中</span> 第 2 章' in index

    # the same link to a question that does not exist fails the strict build
    page = site / "docs/index.md"
    page.write_text(page.read_text(encoding="utf-8").replace("#q-cnn-01", "#q-cnn-42"))
    broken = _build(site)
    assert broken.returncode != 0
    assert "q-cnn-42" in broken.stderr


def test_the_progress_page_has_the_numbers_of_dlnotes_progress(site: Path) -> None:
    (site / "docs/cnn/more.md").write_text(
        "# 更多\n\n- [x] 已解决 #Q-cnn-10 ✅ 2026-12-01\n\n    答。\n\n"
        "- [x] [论文](https://arxiv.org/abs/1512.03385)\n",
        encoding="utf-8",
    )
    proc = _build(site)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (site / "site/progress/index.html").read_text(encoding="utf-8")
    topics = html.split('id="待解决的疑问', 1)[0]  # the review table comes later
    rows = re.findall(
        r"<tr>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>",
        topics,
        re.S,
    )
    shown = {
        re.sub(r"<[^>]+>", "", label).split()[-1]: _numbers(list(cells))
        for label, *cells in rows
    }
    kb = KnowledgeBase.scan(site / "docs")
    for row in compute_progress(kb):
        key = "合计" if row.topic == "total" else row.topic
        assert shown[key] == [
            (row.resolved, row.questions),
            (row.read, row.resources),
            (row.done, row.chapters),
        ], key
    # open questions link to their anchors; recently resolved newest first
    assert 'href="../cnn/sharing/#q-cnn-03"' in html
    recent = html.rsplit("最近解决的疑问", 1)[1]
    assert recent.index("2026-12-01") < recent.index("2026-11-22")


def test_a_hand_written_progress_page_is_refused(site: Path) -> None:
    (site / "docs/progress.md").write_text("# 手写\n", encoding="utf-8")
    proc = _build(site)
    assert proc.returncode != 0
    assert "progress.md is generated from the notes" in proc.stderr


@pytest.mark.parametrize("page", ["guide/writing-notes.md"])
def test_the_guide_documents_the_cli(page: str) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / page).read_text(
        encoding="utf-8"
    )
    for command in (
        "dlnotes questions",
        "dlnotes resolve",
        "dlnotes import",
        "dlnotes check",
    ):
        assert command in text
