"""Study progress per topic: questions resolved, resources read, chapters done.

One computation (:func:`compute_progress`) feeds both ``dlnotes progress`` and the
generated 学习进度 page of the site, so their numbers are equal by construction.
A topic is the top folder of a page (``cnn/pooling.md`` -> ``cnn``; top-level pages
belong to ``home``). A resource counts as read when it is read or digested.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from dlnotes.kb.notes import KnowledgeBase, Question


@dataclass(frozen=True)
class TopicProgress:
    topic: str
    questions: int = 0
    resolved: int = 0
    resources: int = 0
    read: int = 0
    digested: int = 0
    chapters: int = 0
    done: int = 0

    def as_dict(self) -> dict[str, int | str]:
        return asdict(self)


TOTAL = "total"


def compute_progress(kb: KnowledgeBase) -> list[TopicProgress]:
    """Per-topic counts, sorted by topic, followed by the ``total`` row."""
    counts: dict[str, dict[str, int]] = {}

    def bump(topic: str, key: str, amount: int = 1) -> None:
        row = counts.setdefault(topic, {})
        row[key] = row.get(key, 0) + amount

    for q in kb.questions:
        bump(q.section, "questions")
        bump(q.section, "resolved", q.status == "resolved")
    for r in kb.resources:
        bump(r.topic, "resources")
        bump(r.topic, "read", r.status != "unread")
        bump(r.topic, "digested", r.status == "digested")
    for c in kb.chapters:
        bump(c.topic, "chapters")
        bump(c.topic, "done", c.status == "done")
    rows = [TopicProgress(topic, **counts[topic]) for topic in sorted(counts)]
    total = TopicProgress(
        TOTAL,
        **{
            key: sum(getattr(row, key) for row in rows)
            for key in (
                "questions",
                "resolved",
                "resources",
                "read",
                "digested",
                "chapters",
                "done",
            )
        },
    )
    return [*rows, total]


def bar(done: int, total: int, width: int = 20) -> str:
    """A text progress bar: ``█████░░░░░``."""
    if total <= 0:
        return " " * width
    filled = width * done // total  # rounds down: 41/42 is not a full bar
    return "█" * filled + "░" * (width - filled)


def _cell(done: int, total: int, width: int) -> str:
    if total == 0:
        return f"{'':{width}} {'-':>9}"
    return f"{bar(done, total, width)} {f'{done}/{total}':>9}"


def format_progress(kb: KnowledgeBase, *, width: int = 12) -> str:
    """The table ``dlnotes progress`` prints."""
    rows = compute_progress(kb)
    name = max([len(r.topic) for r in rows] + [5])
    col = width + 10
    lines = [
        f"{'topic':<{name}}  {'questions resolved':<{col}}  "
        f"{'resources read':<{col}}  {'chapters done':<{col}}"
    ]
    for r in rows:
        if r.topic == TOTAL:
            lines.append("-" * (name + 3 * col + 6))
        lines.append(
            f"{r.topic:<{name}}  {_cell(r.resolved, r.questions, width)}  "
            f"{_cell(r.read, r.resources, width)}  {_cell(r.done, r.chapters, width)}"
        )
    return "\n".join(lines)


def _escape_link_text(text: str) -> str:
    return text.replace("[", r"\[").replace("]", r"\]")


def _html_bar(done: int, total: int) -> str:
    if total == 0:
        return "—"
    pct = 100 * done // total  # rounds down, like the text bar
    return (
        f'<progress class="dl-progress" value="{done}" max="{total}" '
        f'title="{pct}%"></progress> {done}/{total}'
    )


def _question_link(q: Question, prefix: str) -> str:
    return f"[{_escape_link_text(q.text)}]({prefix}{q.page}#{q.anchor}) `{q.id}`"


def progress_markdown(
    kb: KnowledgeBase,
    *,
    titles: dict[str, str] | None = None,
    recent: int = 10,
    page: str = "progress.md",
) -> str:
    """The Markdown of the generated 学习进度 page (links relative to ``page``)."""
    titles = titles or {}
    prefix = "../" * page.count("/")
    rows = compute_progress(kb)
    intro = (
        "这一页在每次构建时由 `dlnotes` 插件从笔记里生成，不要手写；数字和命令 "
        "`dlnotes progress` 打印的相同。疑问的复选框是 `[x]` 时算已解决；资料是 `[/]`"
        "（已读）或 `[x]`（已消化）时算已读；学习计划的章节是 `[x]` 时算已完成。"
    )
    if kb.page("guide/writing-notes.md"):
        intro += f"写法见 [如何写笔记]({prefix}guide/writing-notes.md)。"
    out = [
        "# 学习进度",
        "",
        intro,
        "",
        "## 各主题进度",
        "",
        "| 主题 | 疑问（已解决） | 资料（已读） | 学习计划（已完成） |",
        "| --- | --- | --- | --- |",
    ]
    for r in rows:
        label = (
            "**合计**"
            if r.topic == "total"
            else f"{titles.get(r.topic, r.topic)} `{r.topic}`"
        )
        out.append(
            f"| {label} | {_html_bar(r.resolved, r.questions)} | "
            f"{_html_bar(r.read, r.resources)} | {_html_bar(r.done, r.chapters)} |"
        )
    open_qs = [q for q in kb.questions if q.status == "open"]
    out += ["", f"## 待解决的疑问（{len(open_qs)}）", ""]
    if not open_qs:
        out.append("没有待解决的疑问。")
    by_topic: dict[str, list[Question]] = {}
    for q in open_qs:
        by_topic.setdefault(q.section, []).append(q)
    for topic in sorted(by_topic):
        out += [f"### {titles.get(topic, topic)}", ""]
        out += [f"- {_question_link(q, prefix)}" for q in by_topic[topic]]
        out.append("")
    done = sorted(
        (q for q in kb.questions if q.status == "resolved" and q.resolved),
        key=lambda q: (q.resolved or "", q.id),
        reverse=True,
    )[:recent]
    out += ["", "## 最近解决的疑问", ""]
    if not done:
        out.append("还没有标注日期的已解决疑问。")
    out += [f"- {q.resolved} {_question_link(q, prefix)}" for q in done]
    out.append("")
    return "\n".join(out)
