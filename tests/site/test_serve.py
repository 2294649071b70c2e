"""The ``mkdocs serve`` endpoint: every refusal, and edits through the editor."""

from __future__ import annotations

import io
import re
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from dlnotes.kb.notes import KnowledgeBase
from dlnotes.kb.tracker import Tracker
from dlnotes.site.serve import MAX_BODY, Endpoint, study_handlers
from tests.support.sites import Served
from tests.support.wsgi import PORT, TOKEN, environ, passthrough, post_json


@pytest.fixture
def endpoint(docs: Path) -> Endpoint:
    return Endpoint(
        passthrough, TOKEN, "127.0.0.1", PORT, study_handlers(Tracker(docs))
    )


RESOLVE = {"action": "resolve", "id": "Q-cnn-01", "answer": "共享的是卷积核的权重。"}


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"REQUEST_METHOD": "GET"}, 405, "only POST"),
        ({"REMOTE_ADDR": "192.168.1.20"}, 403, "only from this machine"),
        ({"HTTP_HOST": "evil.example:8123"}, 403, "unexpected Host"),
        ({"HTTP_HOST": "127.0.0.1:9999"}, 403, "unexpected Host"),
        ({"HTTP_ORIGIN": "http://evil.example"}, 403, "cross-origin"),
        ({"HTTP_ORIGIN": None}, 403, "cross-origin"),
        ({"HTTP_ORIGIN": "null"}, 403, "cross-origin"),
        ({"HTTP_SEC_FETCH_SITE": "cross-site"}, 403, "cross-site"),
        ({"HTTP_X_DLNOTES_TOKEN": "guess"}, 403, "token"),
        ({"HTTP_X_DLNOTES_TOKEN": None}, 403, "token"),
        ({"CONTENT_TYPE": "text/plain"}, 415, "application/json"),
        ({"CONTENT_LENGTH": None}, 411, "Content-Length"),
        ({"CONTENT_LENGTH": str(MAX_BODY + 1)}, 413, "larger than"),
    ],
)
def test_refusals(
    endpoint: Endpoint, docs: Path, overrides: dict[str, Any], code: int, message: str
) -> None:
    before = (docs / "cnn/sharing.md").read_bytes()
    status, payload = endpoint.handle(environ(RESOLVE, **overrides))
    assert (status, payload["ok"]) == (code, False)
    assert message in payload["error"]
    assert (docs / "cnn/sharing.md").read_bytes() == before


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b"{not json", 400, "not JSON"),
        ([1, 2], 400, "JSON object"),
        ({"action": "delete", "id": "Q-cnn-01"}, 400, "unknown action"),
        ({"action": "resolve", "id": "Q-cnn-42"}, 404, "no question Q-cnn-42"),
        ({"action": "resolve", "id": "../../etc/passwd"}, 404, "unknown ID"),
        ({"action": "read", "id": "Q-cnn-01"}, 404, "unknown ID"),
        ({"action": "read", "id": "r-00000000"}, 404, "no resource"),
        ({"action": "resolve", "id": "Q-cnn-01", "answer": 5}, 400, "string"),
        (
            {"action": "resolve", "id": "Q-cnn-01", "answer": "```\nopen"},
            409,
            "refusing",
        ),
    ],
)
def test_bad_bodies_and_unknown_ids(
    endpoint: Endpoint, docs: Path, body: Any, code: int, message: str
) -> None:
    before = (docs / "cnn/sharing.md").read_bytes()
    status, payload = endpoint.handle(environ(body))
    assert status == code and message in payload["error"]
    assert (docs / "cnn/sharing.md").read_bytes() == before


def test_an_oversized_body_is_not_read(endpoint: Endpoint) -> None:
    class Exploding(io.BytesIO):
        def read(self, *args: Any) -> bytes:
            raise AssertionError("the body must not be read")

    env = environ(RESOLVE, CONTENT_LENGTH=str(10 * MAX_BODY))
    env["wsgi.input"] = Exploding()
    assert endpoint.handle(env)[0] == 413


def test_accepted_edits_go_through_the_editor(endpoint: Endpoint, docs: Path) -> None:
    status, payload = endpoint.handle(environ(RESOLVE))
    assert (status, payload) == (
        200,
        {"ok": True, "id": "Q-cnn-01", "status": "resolved"},
    )
    kb = KnowledgeBase.scan(docs)
    q = next(q for q in kb.questions if q.id == "Q-cnn-01")
    assert q.answer == "共享的是卷积核的权重。" and q.resolved
    assert endpoint.handle(environ({"action": "reopen", "id": "Q-cnn-01"}))[0] == 200
    rid = kb.resources[0].id
    status, payload = endpoint.handle(environ({"action": "digest", "id": rid}))
    assert (status, payload["status"]) == (200, "digested")
    cid = kb.chapters[2].id
    assert (
        endpoint.handle(environ({"action": "start", "id": cid}))[1]["status"] == "doing"
    )
    text = (docs / "cnn/sharing.md").read_text(encoding="utf-8")
    assert "- [ ] 共享的是什么参数？ #Q-cnn-01\n\n    共享的是卷积核的权重。\n" in text
    assert "- [x] [一张图理解" in text


def test_other_paths_pass_through_and_a_public_server_refuses_all(docs: Path) -> None:
    ep = Endpoint(passthrough, TOKEN, "127.0.0.1", PORT, study_handlers(Tracker(docs)))
    seen: list[str] = []
    body = ep({"PATH_INFO": "/cnn/sharing/"}, lambda s, h: seen.append(s))
    assert (list(body), seen) == ([b"site"], ["200 OK"])
    public = Endpoint(
        passthrough, TOKEN, "0.0.0.0", PORT, study_handlers(Tracker(docs))
    )
    env = environ(
        RESOLVE, HTTP_HOST=f"0.0.0.0:{PORT}", HTTP_ORIGIN=f"http://0.0.0.0:{PORT}"
    )
    assert public.handle(env)[0] == 403


def test_a_real_mkdocs_serve(served: Served) -> None:
    with urllib.request.urlopen(served.url + "/cnn/sharing/", timeout=10) as res:
        html = res.read().decode()
    token = re.search(r'"token": "([^"]+)"', html)
    assert token, "serve mode embeds the per-run token in the page"
    good = {"Origin": served.url, "X-Dlnotes-Token": token[1]}
    page = served.root / "docs/cnn/sharing.md"
    before = page.read_bytes()
    assert (
        post_json(served.url, RESOLVE, {**good, "Origin": "http://evil.example"})[0]
        == 403
    )
    assert (
        post_json(served.url, RESOLVE, {**good, "X-Dlnotes-Token": "x" * 43})[0] == 403
    )
    assert (
        post_json(served.url, {"action": "resolve", "id": "Q-cnn-77"}, good)[0] == 404
    )
    assert page.read_bytes() == before
    status, payload = post_json(
        served.url, {"action": "resolve", "id": "Q-cnn-03"}, good
    )
    assert (status, payload["status"]) == (200, "resolved")
    assert "#Q-cnn-03 ✅ " in page.read_text(encoding="utf-8")
    deadline = time.monotonic() + 30  # the watcher rebuilds the page
    while time.monotonic() < deadline:
        with urllib.request.urlopen(served.url + "/cnn/sharing/", timeout=10) as res:
            if "dlnotes reopen Q-cnn-03" in res.read().decode():
                break
        time.sleep(0.3)
    else:
        pytest.fail("the page was not rebuilt with the new state")
