"""A strict build of a fixture Obsidian vault (tests/data/vault): every form."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from dlnotes.kb.check import check_docs
from dlnotes.kb.notes import KnowledgeBase
from tests.support import ROOT
from tests.support.sites import build_site

VAULT = ROOT / "tests/data/vault"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("vault")
    shutil.copytree(VAULT, root, dirs_exist_ok=True)
    result = build_site(root)
    assert result.returncode == 0, result.stderr
    return root / "site"


def _article(path: Path) -> str:
    html = path.read_text(encoding="utf-8")
    return html[html.index("<article") : html.index("</article>")]


def _images(html: str) -> list[dict[str, str]]:
    """The attributes of each <img>, however the HTML was serialised."""
    return [
        dict(re.findall(r'(\w+)="([^"]*)"', m))
        for m in re.findall(r"<img([^>]*)>", html)
    ]


def test_wikilinks_resolve_to_pages_and_headings(built: Path) -> None:
    html = _article(built / "index.html")
    conv = "cnn/%E5%8D%B7%E7%A7%AF/"
    assert f'<a href="{conv}">卷积</a>' in html  # file name
    assert '<a href="resnet/ResNet/">残差网络</a>' in html  # alias text
    assert '<a href="resnet/ResNet/#残差块">ResNet &gt; 残差块</a>' in html
    assert '<a href="resnet/ResNet/#恒等映射">恒等映射一节</a>' in html
    assert '<a href="#小结">小结</a>' in html  # [[#heading]]
    assert '<a href="cnn/pooling/">cnn/pooling</a>' in html  # a path
    assert '<a href="cnn/pooling/">池化层</a>' in html  # front matter alias
    assert '<a href="resnet/ResNet/">残差网络（ResNet）</a>' in html  # title
    assert '<a href="resnet/ResNet/">表格里的别名</a>' in html  # `\|` in a table
    page = _article(built / "cnn/卷积/index.html")
    assert '<a href="../pooling/#最大池化">pooling &gt; 最大池化</a>' in page


def test_callouts_become_admonitions(built: Path) -> None:
    html = _article(built / "index.html")
    assert re.search(
        r'<div class="admonition note">\s*<p class="admonition-title">说明 '
        r'<a href="cnn/%E5%8D%B7%E7%A7%AF/">卷积</a></p>',
        html,
    )
    # nested inside the note
    note = html[html.index('class="admonition note"') :]
    assert note.index('class="admonition warning"') < note.index("</div>")
    assert re.search(r'<details class="tip">\s*<summary>折叠的提示</summary>', html)
    assert re.search(r'<details class="question" open="open">', html)
    assert "<p>普通引用 [!不是 callout]</p>" in html  # a plain quote stays one


def test_comments_never_reach_the_site(built: Path) -> None:
    html = _article(built / "index.html")
    assert "<p>公开的一句  继续。</p>" in html
    for path in built.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".json", ".xml"):
            text = path.read_text(encoding="utf-8", errors="replace")
            for secret in ("私密", "SECRET", "也许不用翻转", "Q-home-09"):
                assert secret not in text, f"{secret} published in {path}"
    # ...but a `%%` in code is code
    assert "%%也不是注释%%" in html and "<code>%%y%%</code>" in html


def test_embeds(built: Path) -> None:
    html = _article(built / "index.html")
    assert _images(html) == [
        {
            "alt": "Pasted image 20220430161916",
            "src": "attachments/Pasted%20image%2020220430161916.png",
            "width": "400",
        },
        {"alt": "kernel", "src": "cnn/kernel.png"},
    ]
    conv = _article(built / "cnn/卷积/index.html")
    assert _images(conv) == [
        {"alt": "kernel", "src": "../kernel.png", "width": "32", "height": "32"}
    ]
    # a section of another note, its links rebased, its headings in bold
    embed = html[html.index('<div class="dl-embed">') :]
    embed = embed[: embed.index("</div>")]
    assert '<a href="resnet/ResNet/#残差块">残差网络（ResNet） › 残差块</a>' in embed
    assert '<a href="cnn/%E5%8D%B7%E7%A7%AF/">卷积</a>' in embed  # was ../cnn/卷积.md
    assert "<p><strong>恒等映射</strong></p>" in embed
    assert "其它" not in embed  # the section ends at the next heading of its level
    assert html.count('id="恒等映射"') == 0


def test_tags_and_tag_index(built: Path) -> None:
    html = _article(built / "index.html")
    assert '<a class="dl-tag" href="tags/#tag:深度学习">#深度学习</a>' in html
    assert "<code>#代码</code>" in html
    assert "#2022 也不算" in html
    assert 'id="标题里的-不是标签"' in html  # a heading's `#` is no tag
    tags = _article(built / "tags/index.html")
    for tag in ("cnn", "基础", "resnet", "深度学习", "cnn/卷积"):
        assert f'<span class="md-tag">{tag}</span>' in tags
    assert "不是标签" not in tags and "也不是标签" not in tags


def test_highlight_and_code_untouched(built: Path) -> None:
    html = _article(built / "index.html")
    assert "<mark>重点</mark>" in html
    assert "[[代码里的不是链接]]" in html and "<code>[[x]]</code>" in html


def test_check_and_tracker_agree_with_the_site(built: Path) -> None:
    # what builds strictly checks clean, but for the one link only the site follows
    assert [str(p) for p in check_docs(VAULT / "docs", relative_to=VAULT)] == [
        "docs/index.md:5: [[残差网络（ResNet）]] names a page by its title, which "
        "Obsidian does not follow: write [[resnet/ResNet|残差网络（ResNet）]]"
    ]
    kb = KnowledgeBase.scan(VAULT / "docs")
    # the question hidden in a %% comment is neither tracked nor published
    assert [q.id for q in kb.questions] == ["Q-home-01"]
    assert 'id="q-home-01"' in _article(built / "index.html")


def test_unresolved_wikilink_fails_the_strict_build(tmp_path: Path) -> None:
    shutil.copytree(VAULT, tmp_path, dirs_exist_ok=True)
    page = tmp_path / "docs/cnn/pooling.md"
    page.write_text(
        page.read_text(encoding="utf-8")
        + "\n见 [[ResNet#不存在的小节]] 与 [[Resnt]]。\n",
        encoding="utf-8",
    )
    result = build_site(tmp_path)
    assert result.returncode != 0
    # dlnotes check says the same, at the same lines
    problems = [str(p) for p in check_docs(tmp_path / "docs", relative_to=tmp_path)]
    unresolved = [p for p in problems if ": unresolved [[" in p]
    assert [p.split(" [[")[0] for p in unresolved] == [
        "docs/cnn/pooling.md:11: unresolved",
        "docs/cnn/pooling.md:11: unresolved",
    ]
    assert all(p in result.stderr for p in unresolved)
    assert (
        "docs/cnn/pooling.md:11: unresolved [[ResNet#不存在的小节]]: "
        "resnet/ResNet.md has no heading '不存在的小节'"
    ) in result.stderr
    assert (
        "docs/cnn/pooling.md:11: unresolved [[Resnt]]: no note or file named 'Resnt'"
    ) in result.stderr
