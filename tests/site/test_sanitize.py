"""What a note may contain: payloads in a note never reach the built site.

A fixture site gets a note with 16 script payloads (tags, handlers, ``javascript:``
and ``data:`` URLs, CSS, mutation XSS, a question whose text carries a handler, which
also reaches the progress page). The strict build succeeds, and no payload survives
in the HTML as markup: ``__pwned`` appears in no script, no attribute, no URL. The
allow-list keeps what the site renders (checked on the markup the extensions emit).
"""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from dlnotes.site.sanitize import removed, sanitize
from tests.support.sites import make_site

PAYLOADS = [
    "<script>window.__pwned = 1</script>",
    '<img src="x" onerror="window.__pwned = 2">',
    '<svg onload="window.__pwned = 3"><circle r="1"/></svg>',
    "[点我](javascript:window.__pwned=4)",
    '<a href="JaVaScRiPt:window.__pwned=5">链接</a>',
    '<iframe srcdoc="<script>parent.__pwned = 6</script>"></iframe>',
    '<details open ontoggle="window.__pwned = 7"><summary>s</summary>x</details>',
    '<div style="background-image: url(javascript:window.__pwned=8)">css</div>',
    '<object data="data:text/html,<script>parent.__pwned=9</script>"></object>',
    '<form action="javascript:window.__pwned=10"><button>go</button></form>',
    '<math><mtext><table><mglyph><style><img src=x onerror="window.__pwned=11">',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=12">',
    '<input autofocus onfocus="window.__pwned = 13">',
    '<a href="data:text/html,&lt;script&gt;window.__pwned=14&lt;/script&gt;">d</a>',
    '<p><a href="&#106;avascript:window.__pwned=15">entity</a></p>',
]

EVIL = (
    "# 导入的笔记\n\n"
    + "\n\n".join(PAYLOADS)
    + "\n\n## 疑问\n\n"
    + '- [ ] 这是什么 <img src=x onerror="window.__pwned=16"> ？ #Q-cnn-04\n'
)


class _Markup(HTMLParser):
    """Where ``__pwned`` occurs: in script/style content, attributes or text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_raw: str | None = None
        self.hits: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag in ("script", "style"):
            self.in_raw = tag
        for name, value in attrs:
            text = (value or "").lower().replace("\x00", "")
            if "__pwned" in text or name.startswith("on"):
                self.hits.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action", "data", "formaction") and (
                text.strip().startswith(("javascript:", "data:text", "vbscript:"))
            ):
                self.hits.append(f"<{tag} {name}={value!r}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == self.in_raw:
            self.in_raw = None

    def handle_data(self, data: str) -> None:
        if self.in_raw and "__pwned" in data:
            self.hits.append(f"<{self.in_raw}>{data[:80]}")


def _markup(html: str) -> _Markup:
    parser = _Markup()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_payload_is_defused(payload: str) -> None:
    clean = sanitize(f"<p>前文</p>{payload}<p>后文</p>")
    assert _markup(clean).hits == [], clean
    assert "前文" in clean


def test_what_the_site_renders_is_kept() -> None:
    html = (
        '<h2 id="q">标题<a class="headerlink" href="#q" title="Permanent link">'
        "&para;</a></h2>"
        '<p>公式 <span class="arithmatex">\\(a&lt;b\\)</span></p>'
        '<div class="arithmatex">\\[x^2\\]</div>'
        '<pre class="mermaid"><code>graph LR; A--&gt;B</code></pre>'
        '<div class="highlight"><pre><span></span><code><a id="__codelineno-0-1" '
        'name="__codelineno-0-1" href="#__codelineno-0-1"></a>'
        '<span class="n">x</span></code></pre></div>'
        '<div class="tabbed-set tabbed-alternate" data-tabs="1:2">'
        '<input checked="checked" id="__tabbed_1_1" name="__tabbed_1" type="radio">'
        '<div class="tabbed-labels"><label for="__tabbed_1_1">A</label></div></div>'
        '<div class="admonition note"><p class="admonition-title">注</p></div>'
        '<details class="tip" open><summary>展开</summary><p>x</p></details>'
        '<ul class="task-list"><li class="task-list-item">'
        '<label class="task-list-control"><input type="checkbox" disabled checked>'
        '<span class="task-list-indicator"></span></label> 完成</li></ul>'
        '<table><thead><tr><th style="text-align: center;">h</th></tr></thead>'
        '<tbody><tr><td style="text-align: right;">1</td></tr></tbody></table>'
        '<figure><img alt="图" src="../img/a.png" loading="lazy">'
        "<figcaption>图 1</figcaption></figure>"
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt="输出">'
        '<p>脚注<sup id="fnref:1"><a class="footnote-ref" href="#fn:1">1</a></sup>'
        ' <abbr title="Batch Normalization">BN</abbr></p>'
        '<div class="footnote"><hr><ol><li id="fn:1"><p>注。'
        '<a class="footnote-backref" href="#fnref:1">&#8617;</a></p></li></ol></div>'
        '<span class="dl-ctl" data-dl-kind="question" data-dl-id="Q-cnn-01" '
        'data-dl-status="open"><code class="dl-cli">dlnotes resolve Q-cnn-01</code>'
        '</span><span class="dl-run" data-dl-block="3"></span>'
        '<p><a href="https://arxiv.org/abs/1512.03385">ResNet</a> '
        '<a href="mailto:a@b.c">mail</a> <kbd>Ctrl</kbd> <mark>m</mark></p>'
    )
    assert removed(html, sanitize(html)) == []


@pytest.fixture(scope="module")
def evil_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evil")
    make_site(root)
    (root / "docs/cnn/imported.md").write_text(EVIL, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=root,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    (root / "build.log").write_text(proc.stderr, encoding="utf-8")
    return root


@pytest.mark.parametrize(
    "page", ["cnn/imported/index.html", "progress/index.html", "index.html"]
)
def test_no_payload_survives_the_strict_build(evil_site: Path, page: str) -> None:
    html = (evil_site / "site" / page).read_text(encoding="utf-8")
    assert _markup(html).hits == []
    article = html[html.index("<article") : html.index("</article>")]
    found = _markup(article)
    assert not found.tags & {"iframe", "object", "form", "embed", "base", "svg"}
    assert "http-equiv" not in article


def test_the_pages_still_render_and_the_build_log_says_what_was_removed(
    evil_site: Path,
) -> None:
    html = (evil_site / "site/cnn/imported/index.html").read_text(encoding="utf-8")
    assert "链接" in html and "点我" in html and "css" in html
    progress = (evil_site / "site/progress/index.html").read_text(encoding="utf-8")
    assert "Q-cnn-04" in progress and "这是什么" in progress
    log = (evil_site / "build.log").read_text(encoding="utf-8")
    assert "cnn/imported.md: the sanitiser removed" in log
    assert "<script>" in log and "<img onerror>" in log
    assert "cnn/sharing.md: the sanitiser removed" not in log


@pytest.mark.browser
def test_no_payload_runs_in_a_real_browser(browser: Any, evil_site: Path) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for rel in ("cnn/imported/index.html", "progress/index.html"):
        page.goto((evil_site / "site" / rel).as_uri())
        page.wait_for_load_state("load")
        page.mouse.click(5, 5)  # focus and toggle handlers get their chance
        for text in ("点我", "链接", "entity", "d"):
            links = page.get_by_text(text, exact=True)
            if links.count():
                links.first.click()
        page.wait_for_timeout(300)
        assert page.evaluate("window.__pwned") is None, rel
    assert dialogs == []
    page.close()


NOTEBOOK = (
    '<script src="clipboard.js"></script><style type="text/css">.jp-Cell{}</style>'
    '<div class="jupyter-wrapper"><div class="jp-Notebook" data-jp-theme-light="true">'
    '<div class="zeroclipboard-container"><clipboard-copy for="cell-1" '
    'aria-label="Copy"><svg aria-hidden="true" width="20" height="20" '
    'viewBox="0 0 16 16" class="clipboard-copy-icon"><path fill-rule="evenodd" '
    'd="M0 0h1"></path></svg></clipboard-copy></div>'
    '<div class="jp-OutputArea-output" data-mime-type="text/html">'
    '<img src=x onerror="window.__pwned=20"><script>window.__pwned=21</script>'
    '<svg onload="window.__pwned=22"></svg></div></div></div>'
)


def test_a_notebook_keeps_its_template_head_and_its_cells_are_sanitised() -> None:
    from dlnotes.site.sanitize import sanitize_notebook, split_notebook

    clean = sanitize_notebook(NOTEBOOK)
    head, cells = split_notebook(clean)
    assert head == NOTEBOOK[: NOTEBOOK.index('<div class="jupyter-wrapper">')]
    assert _markup(cells).hits == []
    assert removed(split_notebook(NOTEBOOK)[1], cells) == [
        "<img onerror>",
        "<script>",
        "<svg onload>",
    ]
