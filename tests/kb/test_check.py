"""``dlnotes check``: each kind of problem, with its line, and no false alarms."""

from __future__ import annotations

from pathlib import Path

from dlnotes.kb.check import check_docs, registered_figures

PAGE = """\
# 页

- [ ] 好的问题 #Q-ok-01
- [ ] 坏的编号 #Q-CNN-1
- 没有复选框 #Q-ok-02
1. [ ] 有序列表 #Q-ok-03
- [/] 进行中的问题 #Q-ok-04
- [x] 没有日期 #Q-ok-05
- [ ] 多了日期 #Q-ok-06 ✅ 2026-01-01
- [ ] 编号后面还有字 #Q-ok-07 还有
见 [#Q-ok-01](#q-ok-01) 和 `#Q-写法-示例`，这些不是问题。

![[Pasted image 1.png]]
![缺](img/missing.png) ![在](img/here.png) ![图](../assets/figures/{figure}.png)
![远程](https://example.org/a.png)
[跟踪](https://blog.csdn.net/a/article/details/1?spm=1001.2014&utm_term=x)
<https://www.zhihu.com/question/1?rf=2> 和裸链接 https://b.org/?utm_source=z

```
- [ ] 没有语言的代码块 #Q-ok-20
```

```markdown
- [ ] 有语言的示例不报 #Q-ok-21
```

    - [ ] 缩进代码块 #Q-ok-22

```python
- [ ] 没闭合 #Q-ok-23
"""


def test_every_problem_kind_is_reported_at_its_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub/img").mkdir(parents=True)
    (docs / "sub/img/here.png").write_bytes(b"\x89PNG")
    figure = sorted(registered_figures())[0] if registered_figures() else "none"
    (docs / "sub/page.md").write_text(PAGE.format(figure=figure), encoding="utf-8")
    (docs / "sub/other.md").write_text("- [ ] 重复 #Q-ok-01\n", encoding="utf-8")
    (docs / "sub/.page.md.123-ab.tmp").write_text("partial", encoding="utf-8")
    problems = [str(p) for p in check_docs(docs, relative_to=tmp_path)]
    where = {p.split(": ", 1)[0] for p in problems}
    messages = "\n".join(problems)
    dup = "duplicate question ID Q-ok-01 (first at docs/sub/other.md:1)"
    assert [p for p in problems if p.startswith("docs/sub/page.md:3:")] == [
        f"docs/sub/page.md:3: {dup}"
    ]  # well formed, only a duplicate
    assert "docs/sub/page.md:4: malformed question ID #Q-CNN-1" in messages
    assert "docs/sub/page.md:5: question without a checkbox" in messages
    assert "docs/sub/page.md:6: a question must be a bullet item" in messages
    assert (
        "docs/sub/page.md:7: Q-ok-04: a question is open `[ ]` or resolved" in messages
    )
    assert "docs/sub/page.md:8: Q-ok-05: resolved question without" in messages
    assert (
        "docs/sub/page.md:9: Q-ok-06: open question carries a resolved date" in messages
    )
    assert "docs/sub/page.md:10: the question ID must end the line" in messages
    assert "docs/sub/page.md:11" not in where  # references and inline code
    assert (
        "docs/sub/page.md:13: unresolved ![[Pasted image 1.png]]: "
        "no note or file named 'Pasted image 1.png'"
    ) in messages
    assert "docs/sub/page.md:14: missing image img/missing.png" in messages
    assert messages.count("docs/sub/page.md:14:") == (1 if figure != "none" else 2)
    assert "docs/sub/page.md:15" not in where  # remote images are not checked here
    assert (
        "docs/sub/page.md:16: link with tracking parameters (spm, utm_term): "
        in messages
    )
    assert "use https://blog.csdn.net/a/article/details/1" in messages
    assert "docs/sub/page.md:17: link with tracking parameters (rf)" in messages
    assert "docs/sub/page.md:17: link with tracking parameters (utm_source)" in messages
    assert (
        "docs/sub/page.md:20: question inside a code block is not tracked" in messages
    )
    assert "docs/sub/page.md:24" not in where  # an example in a ```markdown fence
    assert (
        "docs/sub/page.md:27: question inside a code block is not tracked (indented"
        in messages
    )
    assert "docs/sub/page.md:29: code fence is never closed" in messages
    assert (
        "docs/sub/page.md:30: question inside a code block is not tracked (an unclosed"
        in messages
    )
    assert "docs/sub/other.md:1" not in where  # the first of the two Q-ok-01
    assert (
        "docs/sub/.page.md.123-ab.tmp:1: temporary file left by an interrupted edit"
        in messages
    )


def test_a_clean_page_has_no_problems(docs: Path) -> None:
    assert check_docs(docs) == []


def test_only_the_given_pages_are_checked(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("- [ ] x #Q-A-1\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("- [ ] y #Q-B-1\n", encoding="utf-8")
    problems = check_docs(tmp_path, pages={"b.md"})
    assert [(Path(p.path).name, p.line) for p in problems] == [("b.md", 1)]


OBSIDIAN = """\
# 笔记

见 [[page]]、[[page#页]]、[[笔记#小节]] 与 ![[img/here.png|200]]，按标题 [[另]]。
见 [[不存在]]、[[page#没有的小节]] 和 ![[丢了.png]]。

> [!note] 提示
> - [ ] 写在提示框里的问题 #Q-ok-30

![[other]]
开了没关的嵌入 ![[here.png]

## 小节

%% 这个注释没有关上
"""


def test_obsidian_forms_by_the_sites_rules(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub/img").mkdir(parents=True)
    (docs / "sub/img/here.png").write_bytes(b"\x89PNG")
    (docs / "sub/page.md").write_text("# 页\n", encoding="utf-8")
    (docs / "sub/other.md").write_text("# 另\n\n![[笔记]]\n", encoding="utf-8")
    (docs / "sub/笔记.md").write_text(OBSIDIAN, encoding="utf-8")
    problems = [str(p) for p in check_docs(docs, relative_to=tmp_path)]
    note = "docs/sub/笔记.md"
    # problems inside an embedded note are reported at their own line only
    assert problems == [
        "docs/sub/other.md:3: ![[other]] embeds itself "
        "(via sub/other.md# > sub/笔记.md#)",
        f"{note}:3: [[另]] names a page by its title, which Obsidian does not "
        "follow: write [[sub/other|另]]",
        f"{note}:4: unresolved ![[丢了.png]]: no note or file named '丢了.png'",
        f"{note}:4: unresolved [[page#没有的小节]]: sub/page.md has no heading "
        "'没有的小节'",
        f"{note}:4: unresolved [[不存在]]: no note or file named '不存在'",
        f"{note}:7: question inside a quote or callout is not tracked: "
        "move it out of the `>` block",
        f"{note}:9: ![[笔记]] embeds itself (via sub/笔记.md# > sub/other.md#)",
        f"{note}:10: Obsidian embed ![[here.png] is not closed with `]]`",
        f"{note}:14: Obsidian comment `%%` is never closed: the rest of the page "
        "is hidden",
    ]


SCRIPTS = """\
# 含脚本的笔记

正文 <script>alert(1)</script>
<img src="x.png"
     onerror="alert(2)">
[点我](javascript:alert(3)) 和 <a href=" Java&#115;cript:alert(4)">链接</a>
<JavaScript:alert(5)> 和 <span onClick = "x()">按钮</span>

[ref]: vbscript:msgbox(6)

不报：`<script>`、`onerror=`、[正常](https://example.org/on=1)、<https://example.org/>

```html
<script>alert("代码块里是文本")</script>
```

<!-- <script>alert("注释")</script> -->
"""


def test_script_in_notes_is_reported_at_its_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "s.md").write_text(SCRIPTS, encoding="utf-8")
    problems = [(p.line, p.message) for p in check_docs(docs)]
    assert [line for line, _ in problems] == [3, 5, 6, 6, 7, 7, 9]
    messages = "\n".join(m for _, m in problems)
    assert "raw <script> in the note" in problems[0][1]
    assert "event handler onerror= in raw HTML <img>" in problems[1][1]
    assert messages.count("script URL") == 4
    assert "event handler onClick= in raw HTML <span>" in messages
    assert "script URL vbscript:msgbox(6)" in problems[6][1]
