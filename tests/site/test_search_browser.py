"""Search in Chromium against the built site: whole terms, the right page first."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

# (query, a page expected among the first three results)
QUERIES = [
    ("残差", "resnet/"),
    ("卷积核", "cnn/"),
    ("迁移学习", "transfer/"),
    ("批量归一化", "bn/"),
    ("遗忘门", "rnn/lstm/"),
    ("im2col", "cnn/convolution/"),
    ("BN", "bn/"),
    ("LSTM 遗忘门", "rnn/lstm/"),
    ("参数共享", "cnn/parameter-sharing/"),
    ("反向传播", "nn/backprop/"),
    ("池化", "cnn/pooling/"),
    ("感知机", "nn/perceptron/"),
    ("梯度消失", "rnn/"),
    ("交叉熵", "math/probability/"),
    ("条件数", "math/numerical/"),
    ("Dropout", "nn/dropout/"),
    ("ResNet", "resnet/"),
    ("softmax", "math/probability/"),
    ("特征图", "cnn/feature-maps/"),
    ("感受野", "cnn/"),
]


@pytest.fixture(scope="module")
def search(browser: Any, base_url: str) -> Iterator[Any]:
    """One page whose search box takes every query in turn."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "console",
        lambda m: errors.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.goto(base_url + "/")
    page.wait_for_load_state("networkidle")
    page.locator("input.md-search__input").click()
    page.wait_for_function(
        "() => document.querySelector('.md-search-result__meta')"
        ".textContent.trim().length > 0"
    )

    def run(query: str) -> list[dict[str, str]]:
        box = page.locator("input.md-search__input")
        box.fill("")
        box.press("End")
        box.fill(query)
        box.press("End")  # Material listens to keyup
        page.wait_for_function(
            """q => {
                const items = document.querySelectorAll('.md-search-result__item');
                const meta = document.querySelector('.md-search-result__meta');
                return document.querySelector('input.md-search__input').value === q
                    && (items.length > 0 || /没有/.test(meta.textContent));
            }""",
            arg=query,
        )
        page.wait_for_timeout(150)  # let the last results of this query render
        return page.locator(".md-search-result__item").evaluate_all(
            """els => els.map(e => ({
                href: e.querySelector('a').getAttribute('href'),
                text: e.textContent.replace(/\\u200b/g, ''),
                marks: [...e.querySelectorAll('mark')].map(m => m.textContent
                    .replace(/\\u200b/g, '')),
            }))"""
        )

    yield run
    page.close()
    assert errors == []


@pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[q for q, _ in QUERIES])
def test_search_ranks_the_page_first_and_matches_whole_terms(
    search: Any, query: str, expected: str
) -> None:
    results = search(query)
    assert results, f"no result for {query!r}"
    top3 = [urlsplit(r["href"]).path for r in results[:3]]
    assert any(h.endswith(expected) for h in top3), (query, top3)
    for term in query.lower().split():
        for r in results[:5]:
            assert term in r["text"].lower(), (query, r["href"])
    # highlights mark whole terms, never a lone character of one
    terms = set(query.lower().split())
    for r in results[:5]:
        assert all(any(t in m.lower() for t in terms) for m in r["marks"]), (
            query,
            r["marks"],
        )


def test_chinese_query_never_falls_back_to_single_characters(search: Any) -> None:
    results = search("迁移学习")
    assert results and all("迁移学习" in r["text"] for r in results)


def test_previews_show_no_raw_tex_and_no_build_outputs(site_dir: Path) -> None:
    index = json.loads(
        (site_dir / "search/search_index.json").read_text(encoding="utf-8")
    )
    # TeX written as code (the guide to writing math) is code, not a formula
    code = re.compile(r"<code>.*?</code>|<pre>.*?</pre>", re.S)
    texts = {d["location"]: code.sub("", d["text"]) for d in index["docs"]}
    tex = re.compile(r"\\\(|\\\[|\\frac|\\mathbf|\\sum|\$\$")
    assert not [loc for loc, t in texts.items() if tex.search(t)]
    joined = "".join(texts.values())
    # a line the CNN page's first example prints (built output, not a preview)
    assert "partial results (3, 107, 160)" not in joined
    lab = "".join(t for loc, t in texts.items() if loc.startswith("labs/"))
    assert lab and "import " not in lab  # notebook code cells are not previews
