"""Questions: one Markdown form, unique IDs, every seed question on its page."""

from __future__ import annotations

import re

import pytest

from tests.support import DOCS, ROOT

# The form documented in docs/guide/writing-notes.md.
QUESTION = re.compile(
    r"^(?P<indent>\s*)[-*+] \[(?P<mark>[ xX])\] (?P<text>.+?)"
    r"\s+#Q-(?P<id>[a-z][a-z0-9]*-\d{2,})"
    r"(?:\s+✅ (?P<date>\d{4}-\d{2}-\d{2}))?\s*$"
)
LOOSE_ID = re.compile(r"#Q-\S+")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")


def questions() -> list[dict[str, str]]:
    found = []
    for md in sorted(DOCS.rglob("*.md")):
        if md.name == "writing-notes.md":  # documents the syntax with examples
            continue
        lines = md.read_text(encoding="utf-8").splitlines()
        in_fence = False
        for n, line in enumerate(lines, 1):
            if FENCE.match(line):
                in_fence = not in_fence
                continue
            # A question is a task-list item whose text (outside inline code)
            # carries a #Q- id; prose that mentions the syntax is not one.
            if in_fence or "#Q-" not in INLINE_CODE.sub("", line):
                continue
            m = QUESTION.match(line)
            where = f"{md.relative_to(ROOT)}:{n}"
            if not m:
                found.append({"where": where, "malformed": line})
                continue
            answer = []
            for follow in lines[n:]:
                if follow.strip() and not follow.startswith(
                    " " * (len(m["indent"]) + 4)
                ):
                    break
                answer.append(follow)
            found.append(
                {**m.groupdict(), "where": where, "answer": "\n".join(answer).strip()}
            )
    return found


def test_there_are_many_questions() -> None:
    assert len(questions()) >= 25


def test_every_question_is_well_formed() -> None:
    bad = [q for q in questions() if "malformed" in q]
    assert bad == []


def test_question_ids_are_unique() -> None:
    seen: dict[str, str] = {}
    dupes = []
    for q in questions():
        if "id" in q:
            if q["id"] in seen:
                dupes.append((q["id"], seen[q["id"]], q["where"]))
            seen[q["id"]] = q["where"]
    assert dupes == []


def test_resolved_questions_have_a_date_and_an_answer() -> None:
    bad = []
    for q in questions():
        if q.get("mark", " ").lower() == "x" and (
            not q["date"] or len(q["answer"]) < 20
        ):
            bad.append(q["where"])
        if q.get("mark") == " " and q.get("date"):
            bad.append(q["where"])
    assert bad == []


SEED_QUESTIONS = [
    ("共享的是什么参数", "cnn/"),
    ("为什么共享参数不会影响到特征提取", "cnn/"),
    ("为什么一个卷积核对应一个特征图", "cnn/"),
    ("为什么同一张图不同的卷积核学到的特征图不同", "cnn/"),
    ("多通道卷积时", "cnn/"),
    ("神经网络图中卷积核体现在哪", "cnn/"),
    ("CNN的卷积核是单层的还是多层的", "cnn/"),
    ("为何使用了12个卷积核", "cnn/"),
    ("dropout 层是用来干什么的", "nn/"),
    ("实线和虚线之间的区别是什么", "resnet/"),
    ("如何 1 个小时读完一篇论文", "resnet/"),
    ("微软研究院实习", "resnet/"),
    ("深度学习的未来会怎样", "intro/"),
    ("Pretrained models", "transfer/"),
]


@pytest.mark.parametrize(("text", "page"), SEED_QUESTIONS)
def test_seed_question_is_tracked_on_its_topic_page(text: str, page: str) -> None:
    norm = re.sub(r"\s+", "", text).lower()
    hits = [
        q
        for q in questions()
        if "id" in q and norm in re.sub(r"\s+", "", q["text"]).lower()
    ]
    assert hits, f"seed question {text!r} is not a tracked question"
    assert any(page in q["where"] for q in hits), hits
