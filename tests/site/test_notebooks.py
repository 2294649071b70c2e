"""Every notebook the site offers for download runs with the package alone."""

from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tests.support import DOCS

pytestmark = pytest.mark.slow


def _execute(path: Path) -> tuple[Path, Any, str]:
    """Run a notebook in a fresh kernel in an empty folder (not the project)."""
    nb = nbformat.read(path, as_version=4)
    workdir = tempfile.mkdtemp(prefix="dlnotes-nb-")
    try:
        client = NotebookClient(
            nb,
            timeout=300,
            kernel_name="python3",
            resources={"metadata": {"path": workdir}},
        )
        client.execute()
    except CellExecutionError as exc:
        return path, nb, str(exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return path, nb, ""


def test_every_downloadable_notebook_runs(site_dir: Path) -> None:
    notebooks = sorted(site_dir.rglob("*.ipynb"))
    pages = {p.relative_to(site_dir).with_suffix("").as_posix() for p in notebooks}
    # every lab and every page with runnable code is offered
    assert {f"labs/{p.stem}" for p in (DOCS / "labs").glob("*.py")} <= pages
    assert {"cnn/convolution", "resnet/index", "math/probability"} <= pages
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(_execute, notebooks))
    failures = [
        f"{p.relative_to(site_dir)}:\n{err[-3000:]}" for p, _, err in results if err
    ]
    assert not failures, "\n\n".join(failures)
    for _, nb, _ in results:
        for cell in nb.cells:
            meta = cell.metadata.get("dlnotes", {})
            if cell.cell_type == "code" and meta.get("kind") == "example":
                # every example prints or shows something meaningful
                assert cell.outputs, f"docs/{meta['page']}:{meta['line']} shows nothing"
