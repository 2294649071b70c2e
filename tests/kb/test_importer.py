"""``dlnotes import``: every seed note, encodings, idempotence and garbage input."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dlnotes.cli import main
from dlnotes.kb.check import check_docs
from dlnotes.kb.importer import decode_note, import_text, recover_line_breaks
from dlnotes.kb.links import tracking_params
from dlnotes.kb.notes import parse_page

DATE = "2026-11-22"


def _import(seed: Path, page: str = "inbox/x.md", used: set[str] | None = None) -> str:
    text, _ = decode_note(seed.read_bytes(), seed.name)
    result = import_text(
        text,
        page=page,
        topic="inbox",
        used_ids=used or set(),
        date=DATE,
        source_dir=seed.parent,
    )
    return result.text


def _seed(seeds_dir: Path, prefix: str) -> Path:
    return next(seeds_dir.glob(f"{prefix}_*.txt"))


def test_each_seed_imports_to_a_clean_page(seeds_dir: Path) -> None:
    for seed in sorted(seeds_dir.glob("*.txt")):
        text = _import(seed)
        parsed = parse_page(text, "inbox/x.md")
        for r in parsed.resources:
            assert tracking_params(r.url) == [], (seed.name, r.url)
            assert not re.search(r"的博客-CSDN博客|_CSDN博客", r.title), r.title
        assert "![[" not in text and "](readme/" not in text
        ids = [q.id for q in parsed.questions]
        assert ids == [f"Q-inbox-{i:02d}" for i in range(1, len(ids) + 1)]
        # a fixpoint: importing the imported page gives it back
        again = import_text(
            text, page="inbox/x.md", topic="inbox", used_ids=set(), date=DATE
        ).text
        assert again == text, seed.name


def test_seed_000_questions_and_resources(seeds_dir: Path) -> None:
    parsed = parse_page(_import(_seed(seeds_dir, "000")), "inbox/x.md")
    assert [q.text for q in parsed.questions] == [
        "共享的是什么参数？",
        "为什么共享参数不会影响到特征提取？",
        "为什么一个卷积核对应一个特征图？",
        "为什么同一张图不同的卷积核学到的特征图不同？",
        "多通道卷积时，用不同的卷积核对每一个通道进行卷积，用激活函数合并特征是什么意思？",
        "神经网络图中卷积核体现在哪？",
    ]
    sections = {r.title: r.section for r in parsed.resources}
    assert sections["一张图理解卷积层的参数共享 - CSDN"] == "资料"
    assert sections["卷积神经网络中卷积核是如何学习到特征的？ - 知乎"] == "资料"
    ids = {r.url: r for r in parsed.resources}
    assert "https://blog.csdn.net/ture_dream/article/details/53241133" in ids


def test_seed_001_recovers_its_line_breaks(seeds_dir: Path) -> None:
    seed = _seed(seeds_dir, "001")
    assert seed.read_text(encoding="utf-8").count("\n") == 0
    text = _import(seed)
    lines = text.splitlines()
    for heading in [
        "## 序言",
        "### 卷积",
        "### what",
        "### why",
        "#### 特征（模式，激活的神经元，特征检测）",
        "## 论文",
        "## 杂谈",
        "### 如何学习：",
        "## 一些疑问和解答：",
    ]:
        assert heading in lines, heading
    assert "    - 如果局部出现边缘特征，则该输出响应大 \\" in text
    assert "        1. 前馈过程" in lines and "        4. 权值更新" in lines
    assert "        - 一般CNN结构依次为" in lines
    assert "            2. `[[CONV -> RELU]*N -> POOL?]*M`" in lines
    parsed = parse_page(text, "inbox/x.md")
    assert [q.text for q in parsed.questions] == ["CNN的卷积核是单层的还是多层的？"]
    assert len(parsed.resources) == 11
    wechat = next(r.url for r in parsed.resources if "weixin" in r.url)
    assert (
        "chksm" not in wechat and "wechat_redirect" not in wechat and "__biz=" in wechat
    )


def test_seed_002_obsidian_tags_embeds_and_inline_questions(seeds_dir: Path) -> None:
    seed = _seed(seeds_dir, "002")
    text, _ = decode_note(seed.read_bytes())
    result = import_text(
        text, page="inbox/x.md", topic="resnet", used_ids={"Q-resnet-07"}, date=DATE
    )
    parsed = parse_page(result.text, "inbox/x.md")
    assert [(q.id, q.text) for q in parsed.questions] == [
        ("Q-resnet-08", "微软研究院实习？"),
        ("Q-resnet-09", "dropout 层是用来干什么的"),
        ("Q-resnet-10", "实线和虚线之间的区别是什么？"),
        ("Q-resnet-11", "如何 1 个小时读完一篇论文呢？"),
    ]
    missing = [line for line in result.report if "missing image" in line]
    assert len(missing) == text.count("![[")
    # kept as written: a tag on the site (dlnotes-obsidian), no heading anywhere
    assert "\n#tips\n" in result.text
    assert "tips" not in [h.text for h in parsed.headings]
    assert "https://www.bilibili.com/video/BV1T7411T7wa)" in result.text


def test_seed_003_reading_lists_and_unplaceable_links(seeds_dir: Path) -> None:
    seed = _seed(seeds_dir, "003")
    text, _ = decode_note(seed.read_bytes())
    result = import_text(
        text, page="inbox/x.md", topic="inbox", used_ids=set(), date=DATE
    )
    parsed = parse_page(result.text, "inbox/x.md")
    assert [q.text for q in parsed.questions] == ["深度学习的未来会怎样？"]
    by_section: dict[str, int] = {}
    for r in parsed.resources:
        by_section[r.section] = by_section.get(r.section, 0) + 1
    assert by_section["需要消化的"] == text.split("## 需要补充的")[0].count("](http")
    assert by_section["需要补充的"] == 1
    assert any("link without a URL" in line for line in result.report)
    assert "https://www.zhihu.com/question/27239198)" in result.text  # rf= removed


def test_seed_004_anchors_bare_urls_and_dedent(seeds_dir: Path) -> None:
    text = _import(_seed(seeds_dir, "004"))
    assert "- [Transfer Learning](#transfer-learning)" in text
    assert "    - [卷积过程，输入和输出大小关系](#卷积过程输入和输出大小关系)" in text
    assert "和<https://cs231n.github.io/transfer-learning/>。" in text
    assert "\n##### 卷积过程，输入和输出大小关系\n" in text  # no longer indented
    assert "- [ ] 为何使用了12个卷积核，深度变成12？ #Q-inbox-01" in text


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-16", "crlf"])
def test_other_encodings_and_crlf_give_the_same_page(
    seeds_dir: Path, tmp_path: Path, encoding: str
) -> None:
    seed = _seed(seeds_dir, "000")
    text = seed.read_text(encoding="utf-8")
    if encoding == "crlf":
        raw = text.replace("\n", "\r\n").encode("utf-8")
    else:
        raw = text.encode(encoding)
    _, used = decode_note(raw, "x")
    assert used == {"crlf": "utf-8"}.get(encoding, encoding)
    other = tmp_path / seed.name
    other.write_bytes(raw)
    assert _import(other) == _import(seed)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty note"),
        (b"  \r\n\t\n", "empty note"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary data"),
        (bytes(range(1, 32)) * 40, "binary data"),
        (b"# x\n" + b"a" * (3 * 2**20), "too large"),
        (b"\xff\xfe" + b"\x00\xd8", "invalid utf-16"),
    ],
)
def test_garbage_is_refused_with_one_line(
    site: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: bytes,
    message: str,
) -> None:
    monkeypatch.chdir(site)
    bad = site / "bad.txt"
    bad.write_bytes(content)
    assert main(["import", str(bad), "--write"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and message in err
    assert not (site / "docs/inbox").exists()


def test_write_is_idempotent_and_never_overwrites_without_force(
    site: Path,
    seeds_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(site)
    seed = _seed(seeds_dir, "000")
    code = main(["import", str(seed)])  # dry run
    out, err = capsys.readouterr()
    assert code == 0 and "- [ ] 共享的是什么参数？ #Q-inbox-01" in out
    assert "dry run" in err and not (site / "docs/inbox").exists()

    assert main(["import", str(seed), "--write"]) == 0
    page = site / "docs/inbox/000_db0568aad0237fba.md"
    first = page.read_bytes()
    capsys.readouterr()
    assert main(["import", str(seed), "--write"]) == 0  # the same file twice
    assert "up to date" in capsys.readouterr().err
    assert page.read_bytes() == first

    page.write_text(
        page.read_text(encoding="utf-8") + "\n我自己加的笔记。\n", encoding="utf-8"
    )
    edited = page.read_bytes()
    assert main(["import", str(seed), "--write"]) == 2
    assert "--force" in capsys.readouterr().err
    assert page.read_bytes() == edited
    assert main(["import", str(seed), "--write", "--force"]) == 0
    assert page.read_bytes() == first  # same IDs: its own questions do not count


def test_imported_seeds_pass_check_and_build_strictly(
    site: Path,
    seeds_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(site)
    seeds = [str(p) for p in sorted(seeds_dir.glob("*.txt"))]
    assert main(["import", *seeds, "--write", "--topic", "seed"]) == 0
    capsys.readouterr()
    docs = site / "docs"
    assert check_docs(docs) == []
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"],
        cwd=site,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    # the imported pages are not in a nav (the tiny site has none): no warnings
    assert proc.returncode == 0 and warnings == [], proc.stderr[-3000:]
    html = (site / "site/inbox/002_2f88aa85dedf641f/index.html").read_text(
        encoding="utf-8"
    )
    assert 'id="q-seed-' in html


def test_local_images_are_copied(
    tmp_path: Path,
    site: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(site)
    raw = tmp_path / "raw"
    (raw / "readme").mkdir(parents=True)
    shutil.copy(
        site / "docs/assets/stylesheets/dlnotes.css", raw / "readme/not-an-image.css"
    )
    (raw / "readme/fig.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    (raw / "note.md").write_text(
        "# 图\n\n![图一](readme/fig.png)\n\n![丢了](readme/gone.png)\n",
        encoding="utf-8",
    )
    assert main(["import", str(raw / "note.md"), "--to", "cnn/figs.md", "--write"]) == 0
    text = (site / "docs/cnn/figs.md").read_text(encoding="utf-8")
    assert "![图一](../assets/imported/cnn-figs/fig.png)" in text
    assert (
        (site / "docs/assets/imported/cnn-figs/fig.png")
        .read_bytes()
        .startswith(b"\x89PNG")
    )
    assert "<!-- dlnotes import: missing image readme/gone.png -->" in text
    assert "missing image readme/gone.png" in capsys.readouterr().err


def test_recover_line_breaks_keeps_emphasis_and_code() -> None:
    line = "## 标题### 小节* 一项 *强调* 文字    * 子项 `a * b`        1. 第一"
    assert recover_line_breaks(line) == [
        "## 标题",
        "### 小节",
        "* 一项 *强调* 文字",
        "    * 子项 `a * b`",
        "        1. 第一",
    ]


# --------------------------------------------------------------------------- #
# The importer stays inside its box
# --------------------------------------------------------------------------- #

PNG = b"\x89PNG\r\n\x1a\nfake"


def test_images_are_copied_only_from_inside_the_notes_folder(
    tmp_path: Path,
    site: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(site)
    home = tmp_path / "home"
    (home / "notes/img").mkdir(parents=True)
    (home / "secret.png").write_bytes(PNG + b"secret")
    (home / "notes/img/ok.png").write_bytes(PNG)
    (home / "notes/img/link.png").symlink_to(home / "secret.png")
    note = home / "notes/note.md"
    note.write_text(
        "# 图\n\n![ok](img/ok.png)\n\n![up](../secret.png)\n\n"
        f"![abs]({home / 'secret.png'})\n\n![link](img/link.png)\n",
        encoding="utf-8",
    )
    assert main(["import", str(note), "--to", "cnn/figs.md", "--write"]) == 0
    copied = site / "docs/assets/imported/cnn-figs"
    assert sorted(p.name for p in copied.iterdir()) == ["ok.png"]
    err = capsys.readouterr().err
    assert err.count("lies outside the note's folder: not copied") == 3
    text = (site / "docs/cnn/figs.md").read_text(encoding="utf-8")
    assert re.findall(r"!\[[^\]]*\]\(([^)]*)\)", text) == [
        "../assets/imported/cnn-figs/ok.png"
    ]
    # the user names a folder: its images come too
    assert main(["import", str(note), "--to", "cnn/figs2.md", "--write",
                 "--attachments", str(home)]) == 0  # fmt: skip
    copied = site / "docs/assets/imported/cnn-figs2"
    assert sorted(p.name for p in copied.iterdir()) == ["ok.png", "secret.png"]
    assert (copied / "secret.png").read_bytes() == PNG + b"secret"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--to", "../evil.md", "not inside the docs folder"),
        ("--to", "cnn/../../evil.md", "not inside the docs folder"),
        ("--to", "/tmp/dlnotes-evil.md", "not inside the docs folder"),
        ("--dest", "../..", "not inside the docs folder"),
        ("--dest", "/tmp", "not inside the docs folder"),
        ("--to", "progress.md", "docs/progress.md is generated from the notes"),
        ("--to", "docs/review", "docs/review.md is generated from the notes"),
    ],
)
def test_to_and_dest_stay_inside_docs(
    tmp_path: Path,
    site: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    option: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.chdir(site)
    note = tmp_path / "note.md"
    note.write_text("# 笔记\n\n为什么？\n", encoding="utf-8")
    before = sorted(p for p in tmp_path.rglob("*") if "site" not in p.parts)
    assert main(["import", str(note), option, value, "--write"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert sorted(p for p in tmp_path.rglob("*") if "site" not in p.parts) == before
    assert not Path("/tmp/dlnotes-evil.md").exists()
    assert not (site / "docs/progress.md").exists()


def test_new_pages_and_images_get_normal_modes(
    tmp_path: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(site)
    (tmp_path / "fig.png").write_bytes(PNG)
    note = tmp_path / "note.md"
    note.write_text("# 图\n\n![图](fig.png)\n", encoding="utf-8")
    old = os.umask(0o022)
    try:
        assert main(["import", str(note), "--to", "new/page.md", "--write"]) == 0
    finally:
        os.umask(old)
    docs = site / "docs"
    assert (docs / "new/page.md").stat().st_mode & 0o777 == 0o644
    assert (docs / "assets/imported/new-page/fig.png").stat().st_mode & 0o777 == 0o644
    assert (docs / "new").stat().st_mode & 0o777 == 0o755


def _import_cli(site: Path, source: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlnotes", "import", source, "--write"],
        cwd=site,
        env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])),
        capture_output=True,
        text=True,
        timeout=60,  # a read of a FIFO would block forever
    )


def test_fifos_devices_and_huge_files_are_refused_before_reading(
    tmp_path: Path, site: Path
) -> None:
    fifo = tmp_path / "note.fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.md"
    with open(huge, "wb") as f:  # sparse: 8 GiB that take no disk
        f.truncate(8 * 2**30)
    for source, message in (
        (str(fifo), "not a regular file (a pipe, device or socket); nothing read"),
        ("/dev/zero", "not a regular file (a pipe, device or socket); nothing read"),
        (str(huge), "too large for a note (8192.0 MiB > 2 MiB)"),
    ):
        proc = _import_cli(site, source)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == f"dlnotes import: error: {source}: {message}"
    assert not (site / "docs/inbox").exists()


RAW_HTML = (
    "# 页\n\n正文 <script>alert(1)</script> 和 <img src=x onerror=alert(2)>\n\n"
    "换行<br> H<sub>2</sub>O 和 `<script>` 和 <https://example.org/>\n\n"
    "[点我](javascript:alert(3)) 和 <javascript:alert(4)>\n\n<!-- 注释 -->\n"
)


def test_raw_html_is_shown_as_text_unless_kept(tmp_path: Path) -> None:
    result = import_text(RAW_HTML, page="a.md", topic="a", used_ids=set(), date=DATE)
    text = result.text
    assert (
        "正文 &lt;script>alert(1)&lt;/script> 和 &lt;img src=x onerror=alert(2)>"
        in text
    )
    # formatting tags without attributes, code, autolinks and comments stay
    assert "换行<br> H<sub>2</sub>O 和 `<script>` 和 <https://example.org/>" in text
    assert "\n点我 和 &lt;javascript:alert(4)>\n" in text
    assert "<!-- 注释 -->" in text
    assert sum("--keep-html keeps it" in line for line in result.report) == 3
    # a fixpoint: importing the page again changes nothing
    again = import_text(text, page="a.md", topic="a", used_ids=set(), date=DATE)
    assert again.text == text
    # and the checker finds nothing left that would run
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text(text, encoding="utf-8")
    assert [p for p in check_docs(docs) if "script" in p.message] == []
    kept = import_text(
        RAW_HTML, page="a.md", topic="a", used_ids=set(), date=DATE, keep_html=True
    )
    assert "正文 <script>alert(1)</script> 和 <img src=x onerror=alert(2)>" in kept.text
    assert "[点我](javascript:alert(3))" in kept.text
