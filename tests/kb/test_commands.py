"""The ``dlnotes`` command line: listings, edits, progress, check and error paths."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dlnotes.cli import COMMANDS, main
from dlnotes.kb.notes import KnowledgeBase
from dlnotes.kb.progress import compute_progress

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def at_site(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from a sub-folder of the project: the docs folder is found upwards."""
    monkeypatch.chdir(site / "docs/cnn")
    return site


def test_questions_lists_and_filters(
    at_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "questions")
    assert code == 0
    lines = out.splitlines()
    # open questions by default, totals that cannot be misread
    assert lines[-1] == (
        "2 open shown (--all for every question); 3 questions: 2 open, 1 resolved"
    )
    assert "Q-cnn-02" not in out
    assert re.match(r"Q-cnn-01 +open +sharing\.md:7 +共享的是什么参数？$", lines[0])
    _, out, _ = run(capsys, "questions", "--all")
    assert out.splitlines()[-1] == "3 questions: 2 open, 1 resolved"
    assert "Q-cnn-02" in out
    assert "Q-cnn-99" not in out  # inside a code fence
    _, out, _ = run(capsys, "questions", "--status", "resolved", "--answers")
    assert "Q-cnn-02" in out and "卷积核在每个位置" in out and "Q-cnn-01" not in out
    _, out, _ = run(capsys, "questions", "特征提取", "--json")
    assert [q["id"] for q in json.loads(out)] == ["Q-cnn-03"]
    _, out, _ = run(capsys, "q", "--topic", "rnn", "--all")
    assert out.splitlines() == ["0 questions: 0 open, 0 resolved"]


def test_ask_resolve_reopen_round_trip(
    at_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = at_site / "docs/cnn/sharing.md"
    code, out, _ = run(capsys, "ask", "cnn/sharing.md", "池化层有参数吗？")
    assert code == 0 and out.startswith("Q-cnn-04  added to cnn/sharing.md:")
    code, out, _ = run(
        capsys,
        "resolve",
        "Q-cnn-04",
        "--answer",
        "没有：池化是固定的运算。",
        "--date",
        "2026-11-22",
    )
    assert code == 0
    text = page.read_text(encoding="utf-8")
    resolved = "- [x] 池化层有参数吗？ #Q-cnn-04 ✅ 2026-11-22"
    assert f"{resolved}\n\n    没有：池化是固定的运算。\n" in text
    code, _, _ = run(capsys, "reopen", "池化层有参数")
    assert code == 0
    assert "- [ ] 池化层有参数吗？ #Q-cnn-04\n" in page.read_text(encoding="utf-8")


def test_resolve_reads_the_answer_from_a_file_stdin_or_the_editor(
    at_site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    page = at_site / "docs/cnn/sharing.md"
    answer = at_site / "answer.md"
    answer.write_text("文件里的答案\n\n$$y = Wx$$\n", encoding="utf-8")
    assert run(capsys, "resolve", "Q-cnn-01", "--answer-file", str(answer))[0] == 0
    assert "    文件里的答案\n\n    $$y = Wx$$\n" in page.read_text(encoding="utf-8")

    monkeypatch.setattr(sys, "stdin", io.StringIO("来自 stdin"))
    assert run(capsys, "resolve", "Q-cnn-03", "--answer-file", "-")[0] == 0
    assert "    来自 stdin\n" in page.read_text(encoding="utf-8")

    editor = at_site / "editor.py"
    editor.write_text(
        textwrap.dedent("""\
        import sys
        path = sys.argv[1]
        old = open(path, encoding="utf-8").read()
        open(path, "w", encoding="utf-8").write("编辑器：" + old)
        """),
        encoding="utf-8",
    )
    monkeypatch.setenv("VISUAL", f"{sys.executable} {editor}")
    assert run(capsys, "resolve", "Q-cnn-02", "--edit", "--force")[0] == 0
    # the editor started from the existing answer
    assert "    编辑器：卷积核在每个位置" in page.read_text(encoding="utf-8")


def test_resources_and_marks(at_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "resources", "--status", "unread")
    assert code == 0 and "一张图理解卷积层的参数共享" in out and "CS231n" not in out
    rid = out.split()[0]
    assert re.fullmatch(r"r-[0-9a-f]{8}", rid)
    assert run(capsys, "read", rid)[0] == 0
    assert (
        run(
            capsys,
            "digest",
            "https://cs231n.github.io/convolutional-networks/?utm_source=x",
        )[0]
        == 0
    )
    _, out, _ = run(capsys, "res", "--json")
    assert [r["status"] for r in json.loads(out)] == ["read", "digested"]
    assert run(capsys, "unread", "CS231n")[0] == 0
    text = (at_site / "docs/cnn/sharing.md").read_text(encoding="utf-8")
    assert "- [/] [一张图" in text and "- [ ] [CS231n" in text


def test_plan_show_and_update(
    at_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "plan")
    assert code == 0
    assert "index.md · 学习计划  (1/3 done)" in out
    assert out.splitlines()[-1] == "3 chapters: 1 done, 1 in progress"
    assert run(capsys, "plan", "done", "第 2 章")[0] == 0
    assert run(capsys, "plan", "start", "第 3 章")[0] == 0
    _, out, _ = run(capsys, "plan", "show", "--status", "done")
    assert out.count("[x]") == 2
    index = (at_site / "docs/index.md").read_text(encoding="utf-8")
    assert "- [x] 第 2 章" in index and "- [/] 第 3 章" in index


def test_progress_prints_the_numbers_of_compute_progress(
    at_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "progress")
    assert code == 0
    table = out.split("\n\n")[0]  # the review numbers follow after a blank line
    rows = {
        line.split()[0]: re.findall(r"(\d+)/(\d+)", line)
        for line in table.splitlines()[1:]
    }
    kb = KnowledgeBase.scan(at_site / "docs")
    for row in compute_progress(kb):
        cells = [
            (row.resolved, row.questions),
            (row.read, row.resources),
            (row.done, row.chapters),
        ]
        shown = [(int(a), int(b)) for a, b in rows[row.topic]]
        assert shown == [c for c in cells if c[1]]
    _, out, _ = run(capsys, "progress", "--json")
    total = json.loads(out)["topics"][-1]
    assert (total["topic"], total["questions"], total["resolved"]) == ("total", 3, 1)


def test_check_reports_file_and_line(
    at_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "check")[0] == 0
    bad = at_site / "docs/cnn/bad.md"
    bad.write_text(
        "- [ ] dup #Q-cnn-01\n- [ ] [x](https://a.org/?spm=1.2)\n![图](nope.png)\n",
        encoding="utf-8",
    )
    code, out, err = run(capsys, "check")
    assert code == 1
    assert "sharing.md:7: duplicate question ID Q-cnn-01 (first at bad.md:1)" in out
    assert "bad.md:2: link with tracking parameters (spm)" in out
    assert "bad.md:3: missing image nope.png" in out
    assert err.strip() == "dlnotes check: 3 problem(s)"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["resolve", "Q-cnn-77"], "no question Q-cnn-77"),
        (["resolve", "为什么"], "2 questions match '为什么'"),
        (["reopen", "不存在的问题"], "no question matches"),
        (["read", "r-00000000"], "no resource r-00000000"),
        (["resolve", "Q-cnn-01", "--date", "2026-13-40"], "date must be YYYY-MM-DD"),
        (["ask", "nope.md", "问题？"], "no page 'nope.md'"),
        (["ask", "cnn/sharing.md", "问题 #Q-cnn-05"], "must not carry an ID"),
        (["plan", "done", "第"], "3 plan chapters match"),
        (["resolve"], "the following arguments are required: ID"),
        (["frobnicate"], "invalid choice"),
        (["resolve", "Q-cnn-01", "--answer-file", "/nonexistent/a.md"], "cannot read"),
    ],
)
def test_errors_are_one_line_with_exit_code_2(
    at_site: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    before = {p: p.read_bytes() for p in (at_site / "docs").rglob("*.md")}
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    _, err = capsys.readouterr()
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err
    assert {p: p.read_bytes() for p in (at_site / "docs").rglob("*.md")} == before


def test_unwritable_file_and_missing_project_in_a_real_process(site: Path) -> None:
    page = site / "docs/cnn/sharing.md"
    page.chmod(0o444)
    before = page.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "dlnotes", "resolve", "Q-cnn-01", "--answer", "x"],
        cwd=site,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"dlnotes: error: {site / 'docs/cnn/sharing.md'}: the file is read-only"
    ]
    assert page.read_bytes() == before
    proc = subprocess.run(
        [sys.executable, "-m", "dlnotes", "questions"],
        cwd="/",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("dlnotes: error: no mkdocs.yml in / or above")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_importing_the_cli_does_not_import_torch() -> None:
    code = (
        "import sys, dlnotes.cli, dlnotes.kb.commands, dlnotes.site.plugin;"
        "dlnotes.cli.build_parser();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.strip() == "[]"


def test_every_command_is_registered_once_with_a_lazy_target() -> None:
    names = [c.name for c in COMMANDS] + [a for c in COMMANDS for a in c.aliases]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[\w.]+:\w+", c.target) for c in COMMANDS)


def test_a_cli_that_never_surprises(
    at_site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dlnotes import __version__
    from dlnotes.kb.progress import bar

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert (
        exit_.value.code == 0 and capsys.readouterr().out == f"dlnotes {__version__}\n"
    )
    # resolving a resolved question: refused, then forced keeps the old answer
    code, _, err = run(capsys, "resolve", "Q-cnn-02", "--answer", "新的答案。")
    assert code == 2 and "already resolved (2026-11-22)" in err and "--force" in err
    page = at_site / "docs/cnn/sharing.md"
    assert "新的答案" not in page.read_text(encoding="utf-8")
    code, _, _ = run(capsys, "resolve", "Q-cnn-02", "--answer", "新的答案。", "--force")
    assert code == 0
    (q,) = [
        q for q in KnowledgeBase.scan(at_site / "docs").questions if q.id == "Q-cnn-02"
    ]
    old_at, new_at = q.answer.index("卷积核在每个位置"), q.answer.index("新的答案")
    assert old_at < new_at
    # reopening an open question is an error, not a silent no-op
    code, _, err = run(capsys, "reopen", "Q-cnn-01")
    assert code == 2 and "Q-cnn-01 is already open" in err
    # bars round down: 41/42 is not full, 42/42 is
    assert bar(41, 42, 12) != "█" * 12 and bar(42, 42, 12) == "█" * 12
    assert bar(1, 42, 12) == "░" * 12
    # filtered resource totals are not misread as "0 read"
    code, out, _ = run(capsys, "resources", "--status", "unread")
    assert code == 0
    assert out.splitlines()[-1] == (
        "1 unread resources shown (all: 1 read (0 digested), 1 unread of 2)"
    )
    # check says OK in one line
    code, out, _ = run(capsys, "check")
    assert code == 0 and out.strip().splitlines() == [
        "dlnotes check: OK (2 pages, no problems)"
    ]
