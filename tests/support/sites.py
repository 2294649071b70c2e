"""Fixtures for the study tracker: a small knowledge base in a temporary folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

SITE_CONFIG = """\
site_name: 测试笔记
strict: true
validation:
  nav:
    omitted_files: warn
    not_found: warn
  links:
    not_found: warn
    anchors: warn
    unrecognized_links: warn
theme:
  name: material
  language: zh
  font: false
markdown_extensions:
  - attr_list
  - md_in_html
  - admonition
  - toc:
      permalink: true
      slugify: !!python/object/apply:pymdownx.slugs.slugify
        kwds:
          case: lower
  - pymdownx.superfences
  - pymdownx.tasklist:
      custom_checkbox: true
plugins:
  - dlnotes:
      vendor: false
extra_css:
  - assets/stylesheets/dlnotes.css
"""

INDEX = """\
# 首页

参数共享的疑问见 [Q-cnn-01](cnn/sharing.md#q-cnn-01)。

## 学习计划

- [x] 第 1 章 深度学习介绍
- [/] 第 2 章 卷积神经网络基础知识
- [ ] 第 3 章 卷积神经网络基本部件
"""

SHARING = """\
# 参数共享

一个卷积核在整张图上滑动，参数不变。

## 疑问

- [ ] 共享的是什么参数？ #Q-cnn-01
- [x] 为什么一个卷积核对应一个特征图？ #Q-cnn-02 ✅ 2026-11-22

    卷积核在每个位置做一次内积，滑过整张图就得到一张特征图。

- [ ] 为什么共享参数不会影响到特征提取？ #Q-cnn-03

```markdown
- [ ] 代码块里的不是问题 #Q-cnn-99
```

## 资料

- [ ] [一张图理解卷积层的参数共享 - CSDN](https://blog.csdn.net/ture_dream/article/details/53241133)
- [/] [CS231n: Convolutional Neural Networks](https://cs231n.github.io/convolutional-networks/)
"""


def make_site(root: Path, *, crlf: bool = False) -> Path:
    """A small MkDocs project (mkdocs.yml + docs/) using the dlnotes plugin."""
    docs = root / "docs"
    (docs / "cnn").mkdir(parents=True)
    (docs / "assets/stylesheets").mkdir(parents=True)
    shutil.copy(
        ROOT / "docs/assets/stylesheets/dlnotes.css",
        docs / "assets/stylesheets/dlnotes.css",
    )
    (root / "mkdocs.yml").write_text(SITE_CONFIG, encoding="utf-8")
    eol = "\r\n" if crlf else "\n"
    for rel, text in (("index.md", INDEX), ("cnn/sharing.md", SHARING)):
        (docs / rel).write_bytes(text.replace("\n", eol).encode("utf-8"))
    return docs


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The project root of a fresh small knowledge base."""
    make_site(tmp_path)
    return tmp_path


@pytest.fixture
def docs(site: Path) -> Path:
    return site / "docs"


def fetch_text(url: str) -> str:
    """The page at ``url`` as text; ``""`` while the server cannot answer."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return str(r.read().decode("utf-8"))
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tmp_log() -> Path:
    fd, name = tempfile.mkstemp(prefix="dlnotes-serve-", suffix=".log")
    os.close(fd)
    return Path(name)


class Served:
    """``mkdocs serve --livereload`` of a small site on a free loopback port.

    The server writes its login link to ``runtime/dlnotes/serve-PORT.url``
    (``XDG_RUNTIME_DIR`` points at a private temporary folder); :attr:`login_url`
    and :attr:`cookie` are a logged-in browser's credentials, :meth:`login` logs a
    Playwright page in.
    """

    def __init__(
        self,
        root: Path,
        ready: str = "/cnn/sharing/",
        timeout: float = 60,
        *,
        dirty: bool = False,
    ) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # the log holds the login link: readable by this user only
        self.log = root / "serve.log" if root != ROOT else _tmp_log()
        self.log.touch(mode=0o600)
        self.log.chmod(0o600)
        self.runtime = Path(tempfile.mkdtemp(prefix="dlnotes-runtime-"))
        env = dict(
            os.environ,
            NO_MKDOCS_2_WARNING="1",
            PYTHONUNBUFFERED="1",
            XDG_RUNTIME_DIR=str(self.runtime),
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mkdocs",
                "serve",
                "--livereload",
                *(["--dirty"] if dirty else []),
                "--dev-addr",
                f"127.0.0.1:{self.port}",
            ],
            cwd=root,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mkdocs serve died:\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(self.url + ready, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"mkdocs serve did not start:\n{self.log.read_text()}"
                )
            time.sleep(0.2)
        self.login_file = self.runtime / "dlnotes" / f"serve-{self.port}.url"
        # a site without study controls and Run buttons has no login link
        self.login_url = self.cookie = ""
        if self.login_file.exists():
            self.login_url = self.login_file.read_text(encoding="utf-8").strip()
            self.cookie = _login_cookie(self.login_url)

    def login(self, page: Any) -> None:
        """Log a Playwright page (its browser context) in, as the user would."""
        page.goto(self.login_url)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.runtime, ignore_errors=True)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _login_cookie(login_url: str) -> str:
    """The ``name=value`` session cookie the login link sets."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(login_url, timeout=10)
    except urllib.error.HTTPError as err:
        if err.code != 303:
            raise
        cookie = err.headers["Set-Cookie"]
        return str(cookie.split(";")[0])
    raise AssertionError("the login link did not redirect")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    make_site(root)
    server = Served(root)
    yield server
    server.stop()


POOLING = """\
# 池化

池化和[参数共享](sharing.md)一样减少参数。最大池化取窗口里的最大值。

## 疑问

- [ ] 池化层为什么没有参数？ #Q-cnn-04
"""

GRAPH_PAGE = """\
# 知识图谱

<div class="dl-graph" id="dl-graph"></div>
"""


def make_linked_site(root: Path) -> Path:
    """:func:`make_site` plus the ``dlnotes-graph`` plugin, folder nav (awesome-nav)
    and notes that link to each other; ``node_modules`` links to the project's."""
    docs = make_site(root)
    config = (root / "mkdocs.yml").read_text(encoding="utf-8")
    config = config.replace(
        "      vendor: false\n",
        "      vendor: false\n  - dlnotes-graph\n  - awesome-nav\n",
    )
    (root / "mkdocs.yml").write_text(config, encoding="utf-8")
    (root / "node_modules").symlink_to(ROOT / "node_modules")
    (docs / "cnn/pooling.md").write_text(POOLING, encoding="utf-8")
    (docs / "graph.md").write_text(GRAPH_PAGE, encoding="utf-8")
    return docs


def build_site(root: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` of the project at ``root`` into ``root/site``."""
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", "site"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
