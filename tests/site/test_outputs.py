"""``dlnotes-outputs``: each block's real output under it, cached, failures fail."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dlnotes.runner.blocks import Block, page_blocks
from dlnotes.site.execution import page_key, render_block
from dlnotes.site.outputs import insert_slots
from tests.support.sites import make_site

PAGE = """\
# 代码输出

```python
import numpy as np

x = np.arange(6).reshape(2, 3)
print("shape", x.shape)
x.sum()
```

中间的文字。

```python
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(3, 2))
ax.plot([0, 1], [1, 0])
ax.set_title("卷积核")
plt.show()
```

```{.python .no-execute}
while True:
    pass
```

!!! note "在提示框里"

    ```python
    print("inside", x.max())
    ```
"""

FAILING = """\
# 出错

```python
print("before")
```

```python
def f():
    return 1 / 0

f()
```

```python
print("never")
```
"""


def _site(tmp_path: Path, page: str) -> Path:
    make_site(tmp_path)
    config = tmp_path / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("plugins:\n", "plugins:\n  - search\n  - dlnotes-outputs\n")
    config.write_text(text, encoding="utf-8")
    (tmp_path / "docs/code.md").write_text(page, encoding="utf-8")
    return tmp_path


def _build(root: Path, *, strict: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", *(["--strict"] if strict else [])],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _kernels(log: str) -> int:
    m = re.search(r"dlnotes-outputs: .* (\d+) kernels started", log)
    assert m, log
    return int(m.group(1))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    root = _site(tmp_path_factory.mktemp("outputs"), PAGE)
    first = _build(root)
    assert first.returncode == 0, first.stderr
    second = _build(root)
    assert second.returncode == 0, second.stderr
    return root, first.stderr, second.stderr


def test_outputs_are_rendered_under_their_blocks(built: tuple[Path, str, str]) -> None:
    root, _, _ = built
    html = (root / "site/code/index.html").read_text(encoding="utf-8")
    outputs = re.findall(
        r'<div class="dl-static-output[^"]*" data-dl-block="(\d)"[^>]*>(.*?)</div>',
        html,
        re.S,
    )
    by_block = dict(outputs)
    assert "shape (2, 3)" in by_block["1"]
    assert "15" in by_block["1"]  # the value of the last expression
    assert "inside 5" in by_block["4"]  # ran after block 1, in the same kernel
    assert "no-execute" in by_block["3"]  # shown as not executed
    # the output follows its own block, in page order
    assert html.index("shape (2, 3)") < html.index("中间的文字")
    assert html.index("inside 5") > html.index("在提示框里")


def test_figures_are_image_files_in_both_themes(built: tuple[Path, str, str]) -> None:
    root, _, _ = built
    html = (root / "site/code/index.html").read_text(encoding="utf-8")
    srcs = re.findall(r'<img src="([^"]+)#only-(light|dark)"', html)
    assert {theme for _, theme in srcs} == {"light", "dark"}
    assert "base64" not in html
    files = [(root / "site/code" / src).resolve() for src, _ in srcs]
    assert len({f.read_bytes() for f in files}) == 2  # two different drawings
    for f in files:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_outputs_are_not_in_the_search_index(built: tuple[Path, str, str]) -> None:
    root, _, _ = built
    data = json.loads(
        (root / "site/search/search_index.json").read_text(encoding="utf-8")
    )
    index = "".join(d["text"] for d in data["docs"]).replace("\u200b", "")
    assert "中间的文字" in index
    assert "shape (2, 3)" not in index and "inside 5" not in index


def test_a_warm_build_starts_no_kernel(built: tuple[Path, str, str]) -> None:
    _, first, second = built
    assert _kernels(first) == 2  # the page, then again for the dark figure
    assert _kernels(second) == 0


def test_a_failing_block_fails_the_strict_build(tmp_path: Path) -> None:
    root = _site(tmp_path, FAILING)
    proc = _build(root)
    assert proc.returncode != 0
    assert "docs/code.md:7: block 2 error" in proc.stderr
    assert "ZeroDivisionError" in proc.stderr
    assert "1 / 0" in proc.stderr  # the traceback, with the failing line
    assert not list((root / ".cache/outputs").glob("*.json"))  # not cached


def test_the_failure_is_shown_on_a_non_strict_build(tmp_path: Path) -> None:
    root = _site(tmp_path, FAILING)
    config = root / "mkdocs.yml"
    text = config.read_text(encoding="utf-8").replace("strict: true", "strict: false")
    config.write_text(text, encoding="utf-8")
    proc = _build(root, strict=False)
    assert proc.returncode == 0, proc.stderr
    html = (root / "site/code/index.html").read_text(encoding="utf-8")
    assert "before" in html
    assert "ZeroDivisionError" in html and "dl-out-failed" in html
    assert "前面的代码块出错" in html  # block 3 did not run


def _package(root: Path) -> Path:
    pkg = root / "dlnotes"
    (pkg / "numpy").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "numpy/__init__.py").write_text("", encoding="utf-8")
    (pkg / "numpy/conv.py").write_text(
        "from dlnotes.numpy.helper import pad\n", encoding="utf-8"
    )
    (pkg / "numpy/helper.py").write_text("def pad(): ...\n", encoding="utf-8")
    (pkg / "numpy/rnn.py").write_text("X = 1\n", encoding="utf-8")
    return pkg


def test_the_key_follows_exactly_the_modules_a_page_imports(tmp_path: Path) -> None:
    pkg = _package(tmp_path)
    conv_page = [Block("a.md", 1, 3, "from dlnotes.numpy.conv import pad\n")]
    rnn_page = [Block("b.md", 1, 3, "import dlnotes.numpy.rnn as rnn\n")]
    before = page_key(conv_page, pkg), page_key(rnn_page, pkg)
    (pkg / "numpy/helper.py").write_text("def pad(): return 1\n", encoding="utf-8")
    after = page_key(conv_page, pkg), page_key(rnn_page, pkg)
    assert after[0] != before[0]  # imported through conv.py
    assert after[1] == before[1]  # rnn does not import it
    (pkg / "numpy/__init__.py").write_text("Z = 1\n", encoding="utf-8")
    assert page_key(rnn_page, pkg) != after[1]  # the package above runs too
    edited = [Block("a.md", 1, 3, "from dlnotes.numpy.conv import pad\npad()\n")]
    assert page_key(edited, pkg) != page_key(conv_page, pkg)


def test_slots_follow_the_run_marker(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    text = "# T\n\n```python\nprint(1)\n```\n\n```python\nprint(2)\n```\n"
    (docs / "p.md").write_text(text, encoding="utf-8")
    blocks = page_blocks(docs, "p.md", tmp_path)
    marked = text.replace(
        "print(1)\n```\n",
        'print(1)\n```\n\n<span class="dl-run" data-dl-block="1" '
        'data-dl-page="p.md"></span>\n',
    )
    out = insert_slots(marked, blocks, {1, 2})
    assert out.index('class="dl-run"') < out.index('data-dl-block="1"></span>\n\n')
    assert out.count('<span class="dl-out"') == 2


def test_long_text_and_big_images_are_cut() -> None:
    events = [
        {"type": "stream", "name": "stdout", "text": "x" * 50},
        {"type": "display", "image": "abc", "bytes": 5_000_000},
        {"type": "stream", "name": "stdout", "text": "50%\r100%\n"},
    ]
    html = render_block(events, image_url=str, max_text=10, max_image_bytes=1000)
    assert "x" * 10 + "\n… 输出太长" in html and "x" * 11 not in html
    assert "图片太大" in html and "<img" not in html
    assert "100%" in html and "50%" not in html


def test_cached_outputs_round_trip(built: tuple[Path, str, str]) -> None:
    root, _, _ = built
    (entry,) = (root / ".cache/outputs").glob("*.json")
    data = json.loads(entry.read_text(encoding="utf-8"))
    assert data["page"] == "code.md"
    assert set(data["blocks"]) == {"1", "2", "4"}


def test_lab_code_cells_get_run_markers(tmp_path: Path) -> None:
    from dlnotes.site.run_ui import mark_notebook_cells

    docs = tmp_path / "docs"
    (docs / "labs").mkdir(parents=True)
    (docs / "labs/lab.py").write_text(
        "# %% [markdown]\n# # 实验\n\n# %%\nx = 1\n\n# %%\nprint(x)\n",
        encoding="utf-8",
    )
    blocks = page_blocks(docs, "labs/lab.py", tmp_path)

    def cell(kind: str, inner: str) -> str:
        return (
            f'<div class="jp-Cell jp-{kind}Cell"><div class="jp-Cell-inputWrapper">'
            f"<div><div>{inner}</div></div></div><div class=out>o</div></div>"
        )

    html = (
        cell("Markdown", "<h1>实验</h1>")
        + cell("Code", '<div class="highlight-ipynb"><pre>x = 1</pre></div>')
        + cell("Code", '<div class="highlight-ipynb"><pre>print(x)</pre></div>')
    )
    marked = mark_notebook_cells(html, blocks)
    assert marked.count('class="dl-run"') == 2
    # each marker follows its cell's input, before the cell's output
    first = marked.index('data-dl-block="1"')
    assert marked.index("x = 1") < first < marked.index("print(x)")
    assert (
        '<pre>x = 1</pre></div></div></div></div><p><span class="dl-run" '
        'data-dl-block="1" data-dl-page="labs/lab.py"></span></p><div class=out>'
    ) in marked
    # a cell count that does not match the file: no markers at all
    assert mark_notebook_cells(
        html + cell("Code", "<pre class=highlight-ipynb>"), blocks
    ) == (html + cell("Code", "<pre class=highlight-ipynb>"))


def test_the_search_index_sees_prose_without_tex_or_notebook_code() -> None:
    from dlnotes.site.search_view import search_view

    page = '<p>残差 <span class="arithmatex">\\(F(x) + x\\)</span> 映射</p>'
    assert search_view(page) == "<p>残差   映射</p>"
    cell = (
        '<div class="jp-Cell jp-CodeCell"><div class="jp-Cell-inputWrapper">'
        '<div><div class="highlight-ipynb"><pre>import torch</pre></div></div></div>'
        '<div class="jp-Cell-outputWrapper"><div><pre>loss 0.1</pre></div></div></div>'
    )
    prose = (
        '<div class="jp-Cell jp-MarkdownCell"><div class="jp-Cell-inputWrapper">'
        "<div><h2>训练</h2><p>每个网络</p></div></div></div>"
    )
    view = search_view(prose + cell, notebook=True)
    assert "训练" in view and "每个网络" in view
    assert "import torch" not in view and "loss 0.1" not in view
    assert view.endswith('<div class="jp-Cell jp-CodeCell"></div>')
