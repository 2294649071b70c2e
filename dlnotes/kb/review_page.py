"""The generated 复习 page: the due list in the static site, a review session under
``mkdocs serve`` (``dlnotes/site/static/review.js`` over the same code path as
``dlnotes review``: :func:`dlnotes.kb.review.grade_question`)."""

from __future__ import annotations

import datetime as dt

from dlnotes.kb.notes import KnowledgeBase
from dlnotes.kb.review import cards_of, due_cards, forecast


def _escape(text: str) -> str:
    return text.replace("|", r"\|").replace("[", r"\[").replace("]", r"\]")


def review_page_markdown(
    kb: KnowledgeBase,
    *,
    page: str = "review.md",
    now: dt.datetime | None = None,
    limit: int = 200,
) -> str:
    """The Markdown of the 复习 page (links relative to ``page``)."""
    now = now or dt.datetime.now(dt.UTC)
    prefix = "../" * page.count("/")
    cards = cards_of(kb)
    due = due_cards(cards, now)
    new = sum(c.is_new for c in due)
    week = sum(n for _, n in forecast(cards, now.date(), 7)[1:])
    guide = (
        f"（见 [复习]({prefix}guide/review.md)）" if kb.page("guide/review.md") else ""
    )
    out = [
        "# 复习",
        "",
        "每个已解决、写了答案的疑问都是一张复习卡片。先回想答案，再看笔记里的答案，"
        "然后给自己打分：**重来**（没想起来）、**困难**、**良好**、**简单**。"
        f"下一次复习的日期由 FSRS 算法安排，写在笔记里问题那一行末尾的注释中{guide}。",
        "",
        '<div class="dl-review" id="dl-review" data-dl-review></div>',
        "",
        "在终端里复习：",
        "",
        "```bash",
        "dlnotes review            # 复习今天到期的卡片",
        "dlnotes review --due      # 只列出到期的卡片",
        "```",
        "",
        "在 `mkdocs serve` 打开的网站上（用终端里打印的登录链接打开），"
        "这一页上方可以直接复习，和命令行用的是同一段代码。",
        "",
        f"## 到期的卡片（{len(due)}）",
        "",
        f"构建时（{now.date().isoformat()}）有 {len(due)} 张到期，"
        f"其中 {new} 张是从没复习过的新卡片；之后 6 天里还有 {week} 张到期。",
        "",
    ]
    if due:
        out += ["| 疑问 | 主题 | 到期 |", "| --- | --- | --- |"]
        for card in due[:limit]:
            q = card.question
            when = "新卡片" if card.is_new else card.due_at(now).date().isoformat()
            link = f"[{_escape(q.text)}]({prefix}{q.page}#{q.anchor})"
            out.append(f"| {link} `{q.id}` | `{q.topic}` | {when} |")
        if len(due) > limit:
            out += [
                "",
                f"……还有 {len(due) - limit} 张（`dlnotes review --due` 列出全部）。",
            ]
    else:
        out.append("现在没有到期的卡片。")
    out.append("")
    return "\n".join(out)
