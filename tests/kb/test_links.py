"""Link cleaning: tracking parameters go, what identifies the article stays."""

from __future__ import annotations

import pytest

from dlnotes.kb.links import clean_title, clean_url, tracking_params

CSDN = (
    "https://blog.csdn.net/weixin_44120025/article/details/114850627"
    "?ops_request_misc=%7B%22request%5Fid%22%3A%22165%22%7D&request_id=165"
    "&biz_id=0&utm_medium=distribute.pc_search_result.none-task-blog-2~all"
    "&utm_term=卷积&spm=1018.2226.3001.4187"
)


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        (CSDN, "https://blog.csdn.net/weixin_44120025/article/details/114850627"),
        (
            "https://blog.csdn.net/x/article/details/1?spm=1001.2101.3001.6650.1"
            "&depth_1-utm_source=distribute.pc_relevant&utm_relevant_index=2",
            "https://blog.csdn.net/x/article/details/1",
        ),
        (
            "https://www.zhihu.com/question/27239198?rf=24827633",
            "https://www.zhihu.com/question/27239198",
        ),
        (
            "https://www.bilibili.com/video/BV1T7411T7wa?spm_id_from=333.337.search",
            "https://www.bilibili.com/video/BV1T7411T7wa",
        ),
        (
            "https://mp.weixin.qq.com/s?__biz=MzA3MzI4MjgzMw==&mid=2650731362&idx=4"
            "&sn=d163dd19&chksm=871b&scene=21#wechat_redirect",
            "https://mp.weixin.qq.com/s?__biz=MzA3MzI4MjgzMw==&mid=2650731362&idx=4"
            "&sn=d163dd19",
        ),
        # Identifying parameters and fragments stay, encoded as they were.
        (
            "http://wangxin123.com/2019/01/01/%E6%B7%B1/#%E5%8D%B7",
            "http://wangxin123.com/2019/01/01/%E6%B7%B1/#%E5%8D%B7",
        ),
        ("https://example.org/a?id=3&page=2", "https://example.org/a?id=3&page=2"),
        ("paper/local.pdf", "paper/local.pdf"),
    ],
)
def test_clean_url(url: str, clean: str) -> None:
    assert clean_url(url) == clean
    assert tracking_params(clean) == []
    assert clean_url(clean) == clean  # idempotent


def test_tracking_params_names_what_is_left() -> None:
    assert set(tracking_params(CSDN)) >= {"spm", "utm_term", "request_id", "biz_id"}
    assert tracking_params("https://mp.weixin.qq.com/s?x=1#wechat_redirect") == [
        "#wechat_redirect"
    ]


@pytest.mark.parametrize(
    ("title", "clean"),
    [
        (
            "一张图理解卷积层的参数共享_格林深瞳的博客-CSDN博客_参数共享",
            "一张图理解卷积层的参数共享 - CSDN",
        ),
        (
            "卷积神经网络(CNN)笔记（五）—— 参数共享机制_zeeq_的博客-CSDN博客_参数共享",
            "卷积神经网络(CNN)笔记（五）—— 参数共享机制 - CSDN",
        ),
        (
            "多通道(比如RGB三通道)卷积过程_deep_learninger的博客-CSDN博客_多通道卷积",
            "多通道(比如RGB三通道)卷积过程 - CSDN",
        ),
        (
            "CNN中的卷积操作与参数共享_☞源仔的博客-CSDN博客_卷积操作实现的参数共享",
            "CNN中的卷积操作与参数共享 - CSDN",
        ),
        (
            "卷积神经网络中卷积核是如何学习到特征的？ - 知乎 (zhihu.com)",
            "卷积神经网络中卷积核是如何学习到特征的？ - 知乎",
        ),
        (
            "《Python深度学习实战:基于Pytorch》 - 当当 -  (dangdang.com)",
            "《Python深度学习实战:基于Pytorch》 - 当当",
        ),
        ("CS231n 用于视觉识别的卷积神经网络", "CS231n 用于视觉识别的卷积神经网络"),
    ],
)
def test_clean_title(title: str, clean: str) -> None:
    assert clean_title(title) == clean
