"""The site side of the Run buttons (``mkdocs serve`` only).

:func:`run_config` describes a page's runnable blocks for the page script
(``static/run.js``), which turns each ``<span class="dl-run">`` marker (placed after a
runnable block by :func:`dlnotes.runner.blocks.mark_runnable`) into a toolbar (运行 /
编辑 / 重置 / 中断 / 重启内核) and an output area that fills as the kernel streams.

:func:`run_handlers` registers the endpoint actions on a
:class:`~dlnotes.runner.pool.KernelPool` (the runner knows nothing of HTTP):

``{"action": "run", "page": "cnn/convolution.md", "block": 3, "code": "..."}``
    queue a run (``code`` is the block as edited on the page) -> ``{"run": id}``;
``{"action": "poll", "run": id, "since": n}``
    the run's events from the ``n``-th on, waiting up to a second for new ones;
``{"action": "interrupt", "page": ...}`` / ``{"action": "restart", "page": ...}``
    stop the running block (and drop the queued ones) / start the page's kernel anew.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from typing import Any

from dlnotes.runner.blocks import PageBlocks
from dlnotes.runner.pool import (
    KernelPool,
    NotRunnable,
    PoolBusy,
    UnknownPage,
    UnknownRun,
)
from dlnotes.site.serve import Handler, Refused


def run_config(blocks: PageBlocks, timeout: float) -> dict[str, Any]:
    return {
        "page": blocks.page,
        "timeout": timeout,
        "blocks": {
            str(b.index): {
                "line": b.line,
                "code": b.code,
                "setup": b.setup,
                "sections": list(b.sections),
            }
            for b in blocks.runnable
        },
    }


def run_handlers(pool: KernelPool) -> dict[str, Handler]:
    """The endpoint actions answered by ``pool``; pool errors become HTTP refusals."""

    def refusing(action: Callable[[dict[str, Any]], dict[str, Any]]) -> Handler:
        def handle(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            try:
                return 200, {"ok": True, **action(data)}
            except (UnknownPage, UnknownRun) as exc:
                raise Refused(404, str(exc)) from None
            except (NotRunnable, PoolBusy) as exc:
                raise Refused(409, str(exc)) from None

        return handle

    def page_of(data: dict[str, Any]) -> str:
        page = data.get("page")
        if not isinstance(page, str) or not page.endswith(".md") or ".." in page:
            raise Refused(404, f"unknown page {page!r}")
        return page

    def run(data: dict[str, Any]) -> dict[str, Any]:
        page = page_of(data)
        index, code = data.get("block"), data.get("code")
        if not isinstance(index, int) or isinstance(index, bool) or index < 1:
            raise Refused(400, "block must be a positive integer")
        if not isinstance(code, str):
            raise Refused(400, "code must be a string")
        r = pool.run(page, index, code)
        return {"run": r.id, "status": r.status}

    def poll(data: dict[str, Any]) -> dict[str, Any]:
        run_id, since = data.get("run"), data.get("since", 0)
        if not isinstance(run_id, str):
            raise Refused(400, "run must be a run ID")
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            raise Refused(400, "since must be a non-negative integer")
        return pool.poll(run_id, since)

    def interrupt(data: dict[str, Any]) -> dict[str, Any]:
        return {"stopped": pool.interrupt(page_of(data))}

    def restart(data: dict[str, Any]) -> dict[str, Any]:
        pool.restart(page_of(data))
        return {}

    actions = {"run": run, "poll": poll, "interrupt": interrupt, "restart": restart}
    return {name: refusing(action) for name, action in actions.items()}


_DIV = re.compile(r"<div\b|</div>")
_INPUT_WRAPPER = re.compile(r'<div class="jp-Cell-inputWrapper"[^>]*>')


def mark_notebook_cells(html: str, blocks: PageBlocks) -> str:
    """Put a Run marker after the input of each code cell of a rendered notebook.

    nbconvert's HTML (mkdocs-jupyter) holds each cell's source in a
    ``jp-Cell-inputWrapper`` div; code cells are matched to ``blocks`` (the
    ``# %%`` cells of the jupytext file) by order. If the counts differ the page is
    returned unchanged: no markers rather than wrong ones.
    """
    inserts: list[int] = []
    for m in _INPUT_WRAPPER.finditer(html):
        depth, end = 0, -1
        for tag in _DIV.finditer(html, m.start()):
            depth += 1 if tag.group() != "</div>" else -1
            if depth == 0:
                end = tag.end()
                break
        if end < 0:
            return html
        if "highlight-ipynb" in html[m.end() : end]:
            inserts.append(end)
    if len(inserts) != len(blocks.blocks):
        return html
    out: list[str] = []
    last = 0
    for at, block in zip(inserts, blocks.blocks, strict=True):
        out.append(html[last:at])
        if block.runnable:
            out.append(
                f'<p><span class="dl-run" data-dl-block="{block.index}" '
                f'data-dl-page="{escape(blocks.page)}"></span></p>'
            )
        last = at
    out.append(html[last:])
    return "".join(out)
