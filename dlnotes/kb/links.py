"""Cleaning of links copied from blogs and search pages.

Links copied from CSDN, zhihu, bilibili or WeChat carry tracking parameters
(``utm_*``, ``spm``, ``ops_request_misc`` ...) and titles with blog-site suffixes
(``_xxx的博客-CSDN博客_关键词``). :func:`clean_url` keeps only what identifies the
article; :func:`clean_title` keeps the title and the source name.

Run ``python -m dlnotes.kb.links URL [TITLE]`` to clean one link by hand.
"""

from __future__ import annotations

import re
import sys
from urllib.parse import parse_qsl, urlsplit, urlunsplit

# Query parameters that only track where a click came from.
TRACKING_PARAMS = frozenset(
    {
        "spm",
        "spm_id_from",
        "ops_request_misc",
        "request_id",
        "biz_id",
        "scm",
        "rf",
        "from",
        "share_source",
        "share_medium",
        "share_plat",
        "share_session_id",
        "share_tag",
        "timestamp",
        "unique_k",
        "vd_source",
        "chksm",
        "scene",
        "sharer_sharetime",
        "sharer_shareid",
        "fbclid",
        "gclid",
        "yclid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "wechat_redirect",
    }
)
TRACKING_PREFIXES = ("utm_", "depth_1-utm_", "depth_1-")

# WeChat articles are identified by these parameters; everything else is tracking.
_WECHAT_KEEP = ("__biz", "mid", "idx", "sn")


def is_tracking_param(name: str) -> bool:
    """True when the query parameter ``name`` only tracks the click."""
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def tracking_params(url: str) -> list[str]:
    """The tracking parameters that ``url`` still carries (empty when clean)."""
    parts = urlsplit(url)
    names = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
    found = [k for k in names if is_tracking_param(k)]
    if parts.fragment == "wechat_redirect":
        found.append("#wechat_redirect")
    return found


def clean_url(url: str) -> str:
    """Drop tracking parameters (and tracking fragments) from ``url``.

    >>> clean_url("https://blog.csdn.net/a/article/details/1?spm=1001.2014&utm_term=x")
    'https://blog.csdn.net/a/article/details/1'
    >>> clean_url("https://www.zhihu.com/question/27239198?rf=24827633")
    'https://www.zhihu.com/question/27239198'
    """
    url = url.strip()
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return url
    # Filter the raw ``key=value`` pieces so kept values keep their exact encoding.
    pieces = [p for p in parts.query.split("&") if p]
    if parts.netloc.endswith("mp.weixin.qq.com"):
        kept = [p for p in pieces if p.split("=", 1)[0] in _WECHAT_KEEP]
    else:
        kept = [p for p in pieces if not is_tracking_param(p.split("=", 1)[0])]
    fragment = "" if parts.fragment == "wechat_redirect" else parts.fragment
    return urlunsplit(
        (parts.scheme, parts.netloc, parts.path, "&".join(kept), fragment)
    )


# The CSDN user name may itself contain underscores when it is ASCII (``zeeq_``).
_CSDN_SUFFIX = re.compile(r"_(?:[A-Za-z0-9_-]+|[^_]*?)的博客-CSDN博客(?:_.*)?$")
_CSDN_PLAIN = re.compile(r"[-_ ]*CSDN博客(?:_.*)?$")
_ZHIHU_SUFFIX = re.compile(r"\s*-\s*知乎\s*(?:\(zhihu\.com\))?\s*$")
_DANGDANG_SUFFIX = re.compile(r"\s*-\s*当当\s*-?\s*(?:\(dangdang\.com\))?\s*$")


def clean_title(title: str) -> str:
    """Strip blog-site suffixes from a copied page title, keeping the source name.

    >>> clean_title("一张图理解卷积层的参数共享_格林深瞳的博客-CSDN博客_参数共享")
    '一张图理解卷积层的参数共享 - CSDN'
    >>> clean_title("参数共享机制_zeeq_的博客-CSDN博客_参数共享机制")
    '参数共享机制 - CSDN'
    >>> clean_title("卷积神经网络中卷积核是如何学习到特征的？ - 知乎 (zhihu.com)")
    '卷积神经网络中卷积核是如何学习到特征的？ - 知乎'
    """
    title = " ".join(title.split())
    for pattern, source in (
        (_CSDN_SUFFIX, "CSDN"),
        (_CSDN_PLAIN, "CSDN"),
        (_ZHIHU_SUFFIX, "知乎"),
        (_DANGDANG_SUFFIX, "当当"),
    ):
        if pattern.search(title):
            return f"{pattern.sub('', title).strip()} - {source}"
    return title.strip()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m dlnotes.kb.links URL [TITLE]", file=sys.stderr)
        return 2
    print(clean_url(args[0]))
    if len(args) > 1:
        print(clean_title(" ".join(args[1:])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
