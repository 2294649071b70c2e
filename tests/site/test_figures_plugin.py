"""The build plugin: notebook cache keys follow the package code they import."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.toc import AnchorLink

from dlnotes.site.figures import dependency_hash
from dlnotes.site.notebooks import fix_notebook_html


def make_package(root: Path) -> Path:
    pkg = root / "dlnotes"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("", encoding="utf-8")
    (pkg / "models/__init__.py").write_text(
        "from .cifar import net\n", encoding="utf-8"
    )
    (pkg / "models/cifar.py").write_text(
        "from dlnotes.numpy import helper\n\ndef net():\n    return 1\n",
        encoding="utf-8",
    )
    (pkg / "numpy").mkdir()
    (pkg / "numpy/__init__.py").write_text("", encoding="utf-8")
    (pkg / "numpy/helper.py").write_text("X = 1\n", encoding="utf-8")
    (pkg / "numpy/unrelated.py").write_text("Y = 1\n", encoding="utf-8")
    return pkg


def test_notebook_key_changes_with_transitively_imported_code(tmp_path: Path) -> None:
    pkg = make_package(tmp_path)
    nb = tmp_path / "lab.py"
    nb.write_text("# %%\n%matplotlib inline\nfrom dlnotes.models import net\n", "utf-8")
    before = dependency_hash(nb, pkg)
    (pkg / "numpy/unrelated.py").write_text("Y = 2\n", encoding="utf-8")
    assert dependency_hash(nb, pkg) == before  # not imported: no re-execution
    (pkg / "numpy/helper.py").write_text("X = 2\n", encoding="utf-8")
    assert dependency_hash(nb, pkg) != before  # imported via models/cifar.py


def test_chinese_notebook_headings_get_ids_and_toc_follows() -> None:
    html = (
        '<h1 id="demo">Demo<a class="anchor-link" href="#demo">¶</a></h1>'
        '<h2 id="">退化实验<a class="anchor-link" href="#">¶</a></h2>'
        '<h2 id="">退化实验</h2>'
        '<!-- Load mathjax -->\n<script src=""> </script>\n'
        "<!-- MathJax configuration -->\n"
        '<script type="text/x-mathjax-config">x</script>'
    )
    h1 = AnchorLink("Demo", "demo", 1)
    h2a = AnchorLink("退化实验", "_1", 2)
    h2b = AnchorLink("退化实验", "_2", 2)
    h1.children = [h2a, h2b]
    out = fix_notebook_html(html, [h1])
    assert 'id="退化实验"' in out and 'id="退化实验_1"' in out
    assert 'href="#退化实验"' in out
    assert 'id=""' not in out
    assert "x-mathjax-config" not in out and '<script src="">' not in out
    assert [h1.id, h2a.id, h2b.id] == ["demo", "退化实验", "退化实验_1"]


def test_notebook_math_becomes_arithmatex_but_code_is_untouched() -> None:
    from dlnotes.site.notebooks import wrap_notebook_math

    html = (
        "<p>残差 $y = F(x) + x$，价格 $5 和 $6</p>"
        "<p>$$\\sum_i x_i$$</p><pre>echo $HOME $x$</pre><code>$a$</code>"
    )
    out = wrap_notebook_math(html)
    assert '<span class="arithmatex">\\(y = F(x) + x\\)</span>' in out
    assert '<span class="arithmatex">\\[\\sum_i x_i\\]</span>' in out
    assert "$5 和 $6" in out  # not math
    assert "<pre>echo $HOME $x$</pre>" in out and "<code>$a$</code>" in out


def test_every_registered_figure_is_shown_on_a_page() -> None:
    import re

    from dlnotes import viz
    from tests.support import DOCS

    used = set()
    for md in DOCS.rglob("*.md"):
        used.update(
            re.findall(r"assets/figures/([a-z0-9-]+)\.png", md.read_text("utf-8"))
        )
    assert set(viz.load_all()) - used == set()


def test_package_figures_get_a_dark_variant() -> None:
    from dlnotes.site.figures import dark_variants

    html = (
        '<p><img alt="边缘" src="../assets/figures/edge-detection.png" /></p>'
        '<img src="../other/photo.png">'
    )
    out = dark_variants(html)
    assert out.count("<img") == 3
    assert 'src="../assets/figures/edge-detection.png#only-light"' in out
    assert 'src="../assets/figures/edge-detection-dark.png#only-dark"' in out
    assert 'src="../other/photo.png"' in out  # not a package figure: untouched


def test_a_figure_is_redrawn_only_when_code_it_uses_changes(tmp_path: Path) -> None:
    from dlnotes.site.figures import figure_hash, find_figures

    pkg = tmp_path / "dlnotes"
    (pkg / "viz").mkdir(parents=True)
    (pkg / "numpy").mkdir()
    for init in (pkg, pkg / "numpy"):
        (init / "__init__.py").write_text("")
    (pkg / "viz/__init__.py").write_text("def figure(name):\n    return lambda f: f\n")
    (pkg / "numpy/conv.py").write_text("def conv(x):\n    return x\n")
    (pkg / "numpy/pool.py").write_text("def pool(x):\n    return x\n")
    viz = pkg / "viz/cnn.py"
    viz.write_text(
        "from dlnotes.numpy.conv import conv\n"
        "from dlnotes.numpy.pool import pool\n"
        "from dlnotes.viz import figure\n\n"
        "SCALE = 2\n\n"
        '@figure("conv-fig")\n'
        "def conv_fig():\n    return conv(SCALE)\n\n"
        '@figure("pool-fig")\n'
        "def pool_fig():\n    return pool(1)\n"
    )
    found = find_figures(pkg)
    assert {name: fn for name, (_, fn) in found.items()} == {
        "conv-fig": "conv_fig",
        "pool-fig": "pool_fig",
    }

    def hashes() -> dict[str, str]:
        return {n: figure_hash(p, fn, pkg) for n, (p, fn) in find_figures(pkg).items()}

    before = hashes()
    # a comment is no code
    (pkg / "numpy/conv.py").write_text("def conv(x):\n    # identity\n    return x\n")
    assert hashes() == before
    # code the conv figure uses: only it is redrawn
    (pkg / "numpy/conv.py").write_text("def conv(x):\n    return 2 * x\n")
    after = hashes()
    assert after["conv-fig"] != before["conv-fig"]
    assert after["pool-fig"] == before["pool-fig"]
    # a constant of its own module that the figure uses
    viz.write_text(viz.read_text().replace("SCALE = 2", "SCALE = 3"))
    assert hashes()["conv-fig"] != after["conv-fig"]
    assert hashes()["pool-fig"] == before["pool-fig"]


def test_while_a_figure_is_drawn_serve_shows_the_last_drawing_or_nothing(
    tmp_path: Path,
) -> None:
    import os

    from dlnotes.site.figures import DARK_SUFFIX, shown_meanwhile

    cache = tmp_path / "figures"
    cache.mkdir()
    new = cache / "pooling-example-bbbbbbbbbbbbbbbb.png"
    # never drawn: an empty image, kept out of the cache (nothing looks drawn)
    blank = shown_meanwhile(new, "pooling-example", "")
    assert blank.parent == cache / "pending" and blank.read_bytes()[:4] == b"\x89PNG"
    assert not new.exists()
    # drawn before with older code: that drawing, of the same theme
    old = cache / "pooling-example-aaaaaaaaaaaaaaaa.png"
    old.write_bytes(b"light")
    old_dark = cache / f"pooling-example-aaaaaaaaaaaaaaaa{DARK_SUFFIX}.png"
    old_dark.write_bytes(b"dark")
    older = cache / "pooling-example-cccccccccccccccc.png"
    older.write_bytes(b"older")
    os.utime(older, (1, 1))
    (cache / "pooling-example-extra-aaaaaaaaaaaaaaaa.png").write_bytes(b"other")
    assert shown_meanwhile(new, "pooling-example", "") == old
    dark = cache / f"pooling-example-bbbbbbbbbbbbbbbb{DARK_SUFFIX}.png"
    assert shown_meanwhile(dark, "pooling-example", DARK_SUFFIX) == old_dark
