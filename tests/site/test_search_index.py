"""The built search index is segmented so Chinese queries find their pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jieba
import pytest


@pytest.fixture(scope="module")
def index(site_dir: Path) -> dict:
    return json.loads(
        (site_dir / "search/search_index.json").read_text(encoding="utf-8")
    )


def page_tokens(index: dict) -> dict[str, set[str]]:
    sep = re.compile(index["config"]["separator"])
    pages: dict[str, set[str]] = {}
    for doc in index["docs"]:
        page = doc["location"].split("#")[0]
        text = re.sub(r"<[^>]+>", " ", f"{doc['title']} {doc['text']}").lower()
        pages.setdefault(page, set()).update(t for t in sep.split(text) if t)
    return pages


def find(index: dict, query: str) -> list[str]:
    """Pages holding every segment of the query, like lunr's AND of terms."""
    terms = [t.lower() for t in jieba.cut(query) if t.strip()]
    return sorted(
        p for p, toks in page_tokens(index).items() if all(t in toks for t in terms)
    )


def test_index_has_no_stemmer_or_trimmer(index: dict) -> None:
    assert index["config"]["pipeline"] == []
    assert "\\u200b" in index["config"]["separator"]


def test_chinese_text_is_segmented_with_zero_width_spaces(index: dict) -> None:
    texts = "".join(d["text"] for d in index["docs"])
    assert texts.count("\u200b") > 1000


@pytest.mark.parametrize(
    ("query", "page"),
    [
        ("参数共享", "cnn/parameter-sharing/"),
        ("迁移学习", "transfer/"),
        ("反向传播", "nn/backprop/"),
        ("ResNet", "resnet/"),
        ("networks", "intro/how-to-learn/"),
        ("卷积核", "cnn/convolution/"),
    ],
)
def test_queries_find_their_pages(index: dict, query: str, page: str) -> None:
    assert page in find(index, query)
