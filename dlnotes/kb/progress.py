"""Study progress per topic: questions resolved, resources read, chapters done.

One computation (:func:`compute_progress`) feeds both ``dlnotes progress`` and the
generated 学习进度 page of the site, so their numbers are equal by construction.
A topic is the top folder of a page (``cnn/pooling.md`` -> ``cnn``; top-level pages
belong to ``home``). A resource counts as read when it is read or digested.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import asdict, dataclass

from dlnotes.kb.notes import KnowledgeBase, Question
from dlnotes.kb.review import (
    ReviewCard,
    TopicReview,
    cards_of,
    forecast,
    retention_by_topic,
    review_activity,
)


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


# --------------------------------------------------------------------------- #
# Review: answered vs reviewed vs mature, the due forecast, the activity history
# --------------------------------------------------------------------------- #

HEAT_WEEKS = 26
ACTIVITY_KINDS = (("resolved", "解决"), ("reviewed", "复习"), ("read", "读完"))


@dataclass(frozen=True)
class ReviewProgress:
    """What the progress page and ``dlnotes progress`` show about review."""

    today: dt.date
    topics: list[TopicReview]
    total: TopicReview
    forecast: list[tuple[dt.date, int]]
    activity: dict[dt.date, dict[str, int]]

    def activity_totals(self) -> dict[str, int]:
        """Questions resolved, cards reviewed, resources read over all days."""
        return {
            k: sum(day.get(k, 0) for day in self.activity.values())
            for k, _ in ACTIVITY_KINDS
        }

    def as_dict(self) -> dict[str, object]:
        return {
            "today": self.today.isoformat(),
            "topics": [asdict(t) for t in [*self.topics, self.total]],
            "forecast": [[d.isoformat(), n] for d, n in self.forecast],
            "activity": {
                d.isoformat(): counts for d, counts in sorted(self.activity.items())
            },
        }


def compute_review(
    kb: KnowledgeBase, *, now: dt.datetime | None = None
) -> ReviewProgress:
    now = now or dt.datetime.now(dt.UTC)
    cards: list[ReviewCard] = cards_of(kb)
    topics = retention_by_topic(cards, now)
    total = TopicReview(TOTAL)
    weighted = 0.0
    for t in topics:
        total.answered += t.answered
        total.reviewed += t.reviewed
        total.mature += t.mature
        total.due += t.due
        weighted += (t.retention or 0.0) * t.reviewed
    total.retention = weighted / total.reviewed if total.reviewed else None
    activity = {d: dict(c) for d, c in review_activity(kb).items()}
    return ReviewProgress(
        now.date(), topics, total, forecast(cards, now.date(), 30), activity
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def _level(n: int) -> int:
    """Heat level 0-4 of a day with ``n`` events (0, 1, 2-3, 4-7, 8+)."""
    return 0 if n <= 0 else 1 if n == 1 else 2 if n <= 3 else 3 if n <= 7 else 4


def format_review(review: ReviewProgress) -> str:
    """The review part of ``dlnotes progress``: the same numbers as the page."""
    name = max([len(t.topic) for t in review.topics] + [5])
    lines = [
        "",
        f"{'topic':<{name}}  {'answered':>8}  {'reviewed':>8}  {'mature':>6}  "
        f"{'due':>4}  {'retention':>9}",
    ]
    for t in [*review.topics, review.total]:
        if t is review.total:
            lines.append("-" * (name + 44))
        lines.append(
            f"{t.topic:<{name}}  {t.answered:>8}  {t.reviewed:>8}  {t.mature:>6}  "
            f"{t.due:>4}  {_pct(t.retention):>9}"
        )
    counts = [n for _, n in review.forecast]
    lines += [
        "",
        f"due in the next 30 days (from {review.today.isoformat()}): "
        + " ".join(str(n) for n in counts)
        + f"  (total {sum(counts)})",
    ]
    shades = " ░▒▓█"
    start = review.today - dt.timedelta(days=7 * 8 - 1)
    row = ""
    for i in range(7 * 8):
        day = start + dt.timedelta(days=i)
        row += shades[_level(sum(review.activity.get(day, {}).values()))]
    totals = review.activity_totals()
    lines += [
        f"activity, last 8 weeks: |{row}|  "
        + ", ".join(f"{totals[k]} {k}" for k, _ in ACTIVITY_KINDS),
    ]
    return "\n".join(lines)


def review_markdown(review: ReviewProgress, *, prefix: str = "") -> list[str]:
    """The review sections of the 学习进度 page (HTML inside Markdown)."""
    out = [
        "## 复习",
        "",
        "笔记里答过的疑问还不等于学会了：**已回答** 是笔记里有答案的疑问"
        "（每个都是一张复习卡片），**复习过** 是至少复习过一次的，**已掌握** "
        "是记忆稳定度达到 21 天的（与 Anki 的 mature 相同），**保持率** 是按 "
        "FSRS 估计的、现在还记得的概率的平均值。",
        "",
        "| 主题 | 已回答 | 复习过 | 已掌握 | 现在到期 | 保持率 |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for t in [*review.topics, review.total]:
        label = "**合计**" if t is review.total else f"`{t.topic}`"
        out.append(
            f"| {label} | {t.answered} | {_html_bar(t.reviewed, t.answered)} | "
            f"{_html_bar(t.mature, t.answered)} | {t.due} | {_pct(t.retention)} |"
        )
    out += ["", "### 未来 30 天到期", ""]
    cells = []
    for day, n in review.forecast:
        title = f"{day.isoformat()}：{n} 张到期"
        cells.append(
            f'<span class="dl-heat dl-heat-{_level(n)}" title="{title}">'
            f"{n if n else ''}</span>"
        )
    out += [
        f'<div class="dl-forecast" aria-label="未来 30 天每天到期的卡片数">'
        f"{''.join(cells)}</div>",
        "",
        f"从 {review.today.isoformat()} 起每格一天；终端里 `dlnotes review --due` "
        "列出现在到期的卡片，`dlnotes review` 开始复习。",
        "",
        "### 学习记录",
        "",
    ]
    end = review.today
    start = end - dt.timedelta(days=end.weekday() + 7 * (HEAT_WEEKS - 1))
    weeks = []
    day = start
    while day <= end:
        week = []
        for _ in range(7):
            if day > end:
                break
            counts = review.activity.get(day, {})
            parts = [f"{label} {counts.get(k, 0)}" for k, label in ACTIVITY_KINDS]
            title = html.escape(f"{day.isoformat()}：" + " · ".join(parts))
            week.append(
                f'<span class="dl-heat dl-heat-{_level(sum(counts.values()))}" '
                f'title="{title}"></span>'
            )
            day += dt.timedelta(days=1)
        weeks.append(f'<span class="dl-week">{"".join(week)}</span>')
    totals = review.activity_totals()
    out += [
        f'<div class="dl-heatmap" aria-label="最近 {HEAT_WEEKS} 周每天的学习记录">'
        f"{''.join(weeks)}</div>",
        "",
        f"最近 {HEAT_WEEKS} 周，每列一周（周一在上），颜色越深当天做得越多；共解决疑问 "
        f"{totals['resolved']} 个、复习卡片 {totals['reviewed']} 次、读完资料 "
        f"{totals['read']} 篇（日期来自笔记里的完成日期和复习记录）。",
        "",
    ]
    return out


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
    out += review_markdown(compute_review(kb), prefix=prefix)
    return "\n".join(out)
