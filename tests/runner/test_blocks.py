"""Runnable blocks of a page: fences, embedded sections, their imports, page names."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from dlnotes.runner.blocks import (
    BlockError,
    free_names,
    mark_runnable,
    page_blocks,
    resolve_page,
    scan_fences,
    section_setup,
)
from tests.support import DOCS, ROOT

MODULE = '''\
"""A module whose sections a page embeds."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .helpers import scale as _scale

if TYPE_CHECKING:
    from collections.abc import Sequence

LIMIT = 3


def _check(n: int) -> int:
    if n < 0:
        raise ValueError("n must be >= 0")
    return n


# --8<-- [start:norm]
def norm(xs: Sequence[float]) -> float:
    """Euclidean norm, scaled."""
    _check(len(xs))
    return _scale(math.sqrt(float(np.sum(np.square(xs)))))
# --8<-- [end:norm]


class Box:
    # --8<-- [start:box-area]
    def area(self) -> float:
        return self.w * self.h
    # --8<-- [end:box-area]


# --8<-- [start:ghost]
def ghost() -> int:
    return undefined_name + LIMIT
# --8<-- [end:ghost]
'''

PAGE = """\
# 演示

```python
--8<-- "pkg/mod.py:norm"
```

```python
x = norm([3.0, 4.0])
print("norm", x)
```

!!! note "在提示框里"

    ```py
    y = x * 2
    ```

=== "Tab"

    ~~~python
    print("tab", y)
    ~~~

```text
not python
```

````markdown
```python
not a block: inside another fence
```
````

```python
--8<-- "pkg/mod.py:box-area"
```

```python
--8<-- "pkg/mod.py:ghost"
```

```python
def broken(:
```
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg/__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg/mod.py").write_text(MODULE, encoding="utf-8")
    (tmp_path / "pkg/helpers.py").write_text(
        "def scale(v):\n    return 10 * v\n", encoding="utf-8"
    )
    docs = tmp_path / "docs"
    (docs / "cnn").mkdir(parents=True)
    (docs / "cnn/demo.md").write_text(PAGE, encoding="utf-8")
    (docs / "index.md").write_text("# 首页\n", encoding="utf-8")
    (docs / "cnn/index.md").write_text("# CNN\n", encoding="utf-8")
    return tmp_path


def test_python_blocks_in_order_with_their_lines(project: Path) -> None:
    pb = page_blocks(project / "docs", "cnn/demo.md")
    assert [(b.index, b.line, b.kind) for b in pb.blocks] == [
        (1, 3, "section"),
        (2, 7, "example"),
        (3, 14, "example"),
        (4, 20, "example"),
        (5, 34, "section"),
        (6, 38, "section"),
        (7, 42, "example"),
    ]
    assert pb.blocks[2].code == "y = x * 2\n"  # indentation of the admonition removed
    assert pb.blocks[3].code == 'print("tab", y)\n'
    assert [b.index for b in pb.runnable] == [1, 2, 3, 4]


def test_why_a_block_cannot_run(project: Path) -> None:
    pb = page_blocks(project / "docs", "cnn/demo.md")
    reasons = {b.index: b.reason for b in pb.blocks if not b.runnable}
    assert "part of a class" in reasons[5]
    assert "undefined_name" in reasons[6]
    assert "not valid Python (line 1" in reasons[7]
    # the method section is shown dedented, as pymdownx.snippets does
    assert pb.block(5).code.startswith("def area(self) -> float:\n")


def test_section_setup_imports_what_the_section_needs(project: Path) -> None:
    block = page_blocks(project / "docs", "cnn/demo.md").block(1)
    assert block.sections == ("pkg/mod.py:norm",)
    assert block.setup.splitlines() == [
        "from __future__ import annotations",
        "import math",
        "import numpy as np",
        "from pkg.helpers import scale as _scale",  # relative import made absolute
        "from pkg.mod import _check",
    ]  # Sequence (annotation only, under TYPE_CHECKING) and LIMIT are not needed
    assert "# --8<--" not in block.code


def test_the_setup_really_makes_the_section_run(project: Path) -> None:
    import subprocess
    import sys

    block = page_blocks(project / "docs", "cnn/demo.md").block(1)
    script = block.setup + "\n" + block.code + "\nprint(norm([3.0, 4.0]))\n"
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "50.0"


def test_a_real_section_defines_the_same_function_as_the_package() -> None:
    from dlnotes.numpy.conv import conv2d_forward_im2col

    block = next(
        b
        for b in page_blocks(DOCS, "cnn/convolution.md", ROOT).blocks
        if b.sections == ("dlnotes/numpy/conv.py:conv2d-im2col",)
    )
    assert "import numpy as np" in block.setup.splitlines()
    namespace: dict[str, object] = {"__name__": "__page__"}
    exec(compile(block.setup + "\n" + block.code, "<block>", "exec"), namespace)
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 7, 7)), rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(4)
    ours = namespace["conv2d_forward_im2col"](x, w, b, stride=2, padding=1)  # type: ignore[operator]
    assert np.array_equal(ours, conv2d_forward_im2col(x, w, b, stride=2, padding=1))


def test_free_names() -> None:
    code = textwrap.dedent(
        """
        import os
        def f(a, b=DEFAULT):
            c = helper(a)
            def g():
                return c + OUTER
            return [x for x in range(len(os.sep))], g
        class K(Base):
            attr = CONST
        """
    )
    assert free_names(code) == {"DEFAULT", "helper", "OUTER", "Base", "CONST"}
    annotated = "def f(x: Array) -> Out:\n    return x\n"
    assert free_names(annotated) == {"Array", "Out"}
    assert free_names(annotated, skip_annotations=True) == set()


def test_section_setup_errors(project: Path) -> None:
    with pytest.raises(BlockError, match="needs missing"):
        section_setup(project, "pkg/mod.py", "print(missing)\n")


def test_scan_fences_closes_only_on_a_matching_fence() -> None:
    lines = ["````md", "```python", "x", "```", "````", "~~~py", "y", "~~~", "```"]
    fences = scan_fences(lines)
    assert [(f.start, f.end, f.lang) for f in fences] == [
        (0, 4, "md"),
        (5, 7, "py"),
        (8, 9, ""),  # never closed: runs to the end
    ]


def test_markers_follow_runnable_blocks_only(project: Path) -> None:
    docs = project / "docs"
    pb = page_blocks(docs, "cnn/demo.md")
    text = (docs / "cnn/demo.md").read_text(encoding="utf-8")
    marked = mark_runnable(text, pb)
    assert marked.count('class="dl-run"') == 4
    assert '    <span class="dl-run" data-dl-block="3"' in marked  # inside the note
    assert 'data-dl-block="5"' not in marked
    lines = marked.splitlines()
    at = lines.index(
        '<span class="dl-run" data-dl-block="2" data-dl-page="cnn/demo.md"></span>'
    )
    assert lines[at - 2 : at] == ["```", ""] and lines[at + 1] == ""
    # a text whose blocks do not match the parse gets no markers at all
    assert mark_runnable(text + "\n```python\nz = 1\n```\n", pb).count("dl-run") == 0


@pytest.mark.parametrize(
    ("ref", "page"),
    [
        ("cnn/demo.md", "cnn/demo.md"),
        ("docs/cnn/demo.md", "cnn/demo.md"),
        ("cnn/demo/", "cnn/demo.md"),
        ("/cnn/demo/#im2col", "cnn/demo.md"),
        ("http://127.0.0.1:8000/cnn/demo/", "cnn/demo.md"),
        ("http://127.0.0.1:8000/cnn/demo.html?x=1", "cnn/demo.md"),
        ("http://127.0.0.1:8000/cnn/", "cnn/index.md"),
        ("/", "index.md"),
    ],
)
def test_resolve_page(project: Path, ref: str, page: str) -> None:
    assert resolve_page(ref, project / "docs") == page


def test_resolve_page_by_file_path_and_errors(project: Path, tmp_path: Path) -> None:
    docs = project / "docs"
    assert resolve_page(str(docs / "cnn/demo.md"), docs) == "cnn/demo.md"
    with pytest.raises(BlockError, match=r"no page 'cnn/nothing\.md'"):
        resolve_page("cnn/nothing.md", docs)
    with pytest.raises(BlockError, match="no page"):
        resolve_page("../pkg/mod.md", docs)
    outside = tmp_path / "elsewhere.md"
    outside.write_text("# x\n", encoding="utf-8")
    with pytest.raises(BlockError, match="not inside the docs folder"):
        resolve_page(str(outside), docs)
    with pytest.raises(BlockError, match="page not found"):
        page_blocks(docs, "missing.md")
    for escape in ("/etc/passwd.md", "../outside.md", "cnn/../../x.md"):
        with pytest.raises(BlockError, match="outside the docs folder"):
            page_blocks(docs, escape)


def test_every_block_of_the_site_runs_or_says_why() -> None:
    not_runnable = {}
    count = 0
    for md in sorted(DOCS.rglob("*.md")):
        if "overrides" in md.parts:
            continue
        for b in page_blocks(DOCS, md.relative_to(DOCS).as_posix(), ROOT).blocks:
            count += 1
            if not b.runnable:
                not_runnable[b.location()] = b.reason
    assert count > 150
    # only the method cut out of BatchNorm1d is shown for reading
    lines = (DOCS / "bn/index.md").read_text(encoding="utf-8").splitlines()
    include = '--8<-- "dlnotes/numpy/batchnorm.py:batchnorm-running-stats"'
    where = f"docs/bn/index.md:{lines.index(include)}"  # the fence opens a line above
    assert list(not_runnable) == [where]
    assert "part of a class" in not_runnable[where]


def test_an_edited_module_gives_a_new_setup(project: Path) -> None:
    """Module parses are cached per file version: an edit is seen at once."""
    code = "def f():\n    return helper()\n"
    mod = project / "pkg/mod.py"
    mod.write_text("def helper():\n    return 1\n", encoding="utf-8")
    assert section_setup(project, "pkg/mod.py", code) == "from pkg.mod import helper"
    mod.write_text("from pkg.helpers import scale as helper\n", encoding="utf-8")
    assert section_setup(project, "pkg/mod.py", code) == (
        "from pkg.helpers import scale as helper"
    )
