"""A page as a notebook, and the lab notebooks' cells as runnable blocks."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from dlnotes.runner.blocks import page_blocks, resolve_page
from dlnotes.runner.notebook import notebook_json, page_notebook
from tests.support import DOCS, ROOT

PAGE = """\
# 卷积

正文，公式 $y = Wx$。%%私下的笔记%%

```python
--8<-- "dlnotes/pkg/conv.py:pad-twice"
```

<!-- 注释不进笔记本 -->
看方法：

```python
--8<-- "dlnotes/pkg/conv.py:method"
```

```python
print(pad_twice(1))
```

```{.python .no-execute}
while True:
    pass
```

```yaml
--8<-- "dlnotes/pkg/conv.yml"
```

结尾。
"""

CONV = """\
import math

from dlnotes.pkg.helper import pad


# --8<-- [start:pad-twice]
def pad_twice(x):
    return pad(pad(x)) + math.floor(0.5)
# --8<-- [end:pad-twice]


class Layer:
    # --8<-- [start:method]
    def forward(self, x):
        return x
    # --8<-- [end:method]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    pkg = tmp_path / "dlnotes/pkg"
    pkg.mkdir(parents=True)
    (pkg / "conv.py").write_text(CONV, encoding="utf-8")
    (pkg / "conv.yml").write_text("size: 3\n", encoding="utf-8")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/conv.md").write_text(PAGE, encoding="utf-8")
    return tmp_path


def test_a_page_becomes_markdown_and_code_cells(project: Path) -> None:
    nb = page_notebook(project / "docs", "conv.md", project)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["markdown", "code", "markdown", "code", "code", "markdown"]
    intro, section, middle, example, skipped, end = nb.cells
    assert intro.source.startswith("# 卷积") and "$y = Wx$" in intro.source
    assert "私下的笔记" not in intro.source  # hidden notes stay hidden
    # the embedded section runs alone: its imports come first
    assert section.source.splitlines()[:2] == [
        "import math",
        "from dlnotes.pkg.helper import pad",
    ]
    assert "def pad_twice(x):" in section.source
    # a method cut out of a class is a listing to read, not a cell
    assert "注释不进笔记本" not in middle.source
    assert "```python\ndef forward(self, x):" in middle.source
    assert example.source == "print(pad_twice(1))"
    assert skipped.metadata["tags"] == ["skip-execution"]
    assert "size: 3" in end.source  # embedded files in other listings are shown
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nbformat.reads(notebook_json(nb), as_version=4))


def test_a_lab_is_read_with_jupytext_without_outputs() -> None:
    nb = page_notebook(DOCS, "labs/degradation.py", ROOT)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] for c in code)
    assert "jupytext" not in nb.metadata
    assert nb.cells[0].cell_type == "markdown"


def test_lab_cells_are_runnable_blocks_with_file_lines() -> None:
    blocks = page_blocks(DOCS, "labs/degradation.py", ROOT)
    text = (DOCS / "labs/degradation.py").read_text(encoding="utf-8").splitlines()
    assert len(blocks.runnable) >= 3
    for block in blocks.blocks:
        assert text[block.line - 1].startswith("# %%")
        assert "[markdown]" not in text[block.line - 1]
        assert block.code.strip() and block.runnable
    # `dlnotes run labs/degradation.py` and the lab's URL name the lab
    assert resolve_page("labs/degradation.py", DOCS) == "labs/degradation.py"
    assert resolve_page("/labs/degradation/", DOCS) == "labs/degradation.py"
