"""The ``mkdocs serve`` endpoint: login, every refusal, edits through the editor.

The refusal matrix is tested here once, with both the study and the run actions
registered: a refused request reaches no handler.
"""

from __future__ import annotations

import io
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from dlnotes.kb.notes import KnowledgeBase
from dlnotes.kb.tracker import Tracker
from dlnotes.site.serve import MAX_BODY, Endpoint, study_handlers
from tests.support.sites import Served, make_site
from tests.support.wsgi import COOKIE, PORT, SESSION, environ, passthrough, post_json

CALLED: list[str] = []


def _recording(name: str) -> Any:
    def handle(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        CALLED.append(name)
        return 200, {"ok": True}

    return handle


@pytest.fixture
def endpoint(docs: Path) -> Endpoint:
    handlers = study_handlers(Tracker(docs))
    # stand-ins for the run actions: the refusals must not reach them either
    handlers.update({name: _recording(name) for name in ("run", "poll")})
    CALLED.clear()
    return Endpoint(passthrough, SESSION, "127.0.0.1", handlers)


RESOLVE = {"action": "resolve", "id": "Q-cnn-01", "answer": "共享的是卷积核的权重。"}


RUN = {"action": "run", "page": "cnn/sharing.md", "block": 1, "code": "1"}


@pytest.mark.parametrize("body", [RESOLVE, RUN])
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
        ({"HTTP_COOKIE": None}, 403, "not logged in"),
        ({"HTTP_COOKIE": f"{SESSION.cookie_name}=guess"}, 403, "not logged in"),
        ({"HTTP_COOKIE": f"dlnotes-session-1={SESSION.cookie}"}, 403, "not logged"),
        ({"HTTP_COOKIE": 'a="\\'}, 403, "not logged in"),
        ({"CONTENT_TYPE": "text/plain"}, 415, "application/json"),
        ({"CONTENT_LENGTH": None}, 411, "Content-Length"),
        ({"CONTENT_LENGTH": "-1"}, 413, "larger than"),
        ({"CONTENT_LENGTH": str(MAX_BODY + 1)}, 413, "larger than"),
        ({"CONTENT_LENGTH": "9999"}, 400, "shorter"),
    ],
)
def test_refusals(
    endpoint: Endpoint,
    docs: Path,
    body: dict[str, Any],
    overrides: dict[str, Any],
    code: int,
    message: str,
) -> None:
    before = (docs / "cnn/sharing.md").read_bytes()
    status, payload = endpoint.handle(environ(body, **overrides))
    assert (status, payload["ok"]) == (code, False)
    assert message in payload["error"]
    assert (docs / "cnn/sharing.md").read_bytes() == before
    assert CALLED == []


def test_the_session_cookie_alone_or_the_token_alone_is_not_enough(
    endpoint: Endpoint,
) -> None:
    assert endpoint.handle(environ(RUN))[0] == 200 and CALLED == ["run"]
    assert endpoint.handle(environ(RUN, HTTP_COOKIE=None))[0] == 403
    assert endpoint.handle(environ(RUN, HTTP_X_DLNOTES_TOKEN=None))[0] == 403
    assert endpoint.handle(environ(RUN, HTTP_COOKIE=f"x=1; {COOKIE}"))[0] == 200


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
    ep = Endpoint(passthrough, SESSION, "127.0.0.1", study_handlers(Tracker(docs)))
    seen: list[str] = []
    env = {
        "PATH_INFO": "/cnn/sharing/",
        "REQUEST_METHOD": "GET",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": f"localhost:{PORT}",
    }
    body = ep(env, lambda s, h: seen.append(s))
    assert (list(body), seen) == ([b"site"], ["200 OK"])
    public = Endpoint(passthrough, SESSION, "0.0.0.0", study_handlers(Tracker(docs)))
    env = environ(
        RESOLVE, HTTP_HOST=f"0.0.0.0:{PORT}", HTTP_ORIGIN=f"http://0.0.0.0:{PORT}"
    )
    assert public.handle(env)[0] == 403


def _get(
    url: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, dict(res.headers), res.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


TOKEN_IN_PAGE = re.compile(r'id="dlnotes-session">\{"token": "([^"]+)"\}<')


def test_a_real_mkdocs_serve(served: Served) -> None:
    # a browser that has not logged in gets the page without token or controls
    status, headers, html = _get(served.url + "/cnn/sharing/")
    assert status == 200 and "dlnotes resolve Q-cnn-01" in html
    for secret in ("dlnotes-session", "dlnotes-config", "/__dlnotes__/static/"):
        assert secret not in html
    # the logged-in browser gets the token and the scripts, never cached
    status, headers, html = _get(
        served.url + "/cnn/sharing/", {"Cookie": served.cookie}
    )
    token = TOKEN_IN_PAGE.search(html)
    assert token, "a logged-in page carries the per-run token"
    assert headers["Cache-Control"] == "no-store"
    for name in ("api.js", "study.js", "run.js"):
        assert f'<script src="/__dlnotes__/static/{name}"></script>' in html
        code, _, js = _get(f"{served.url}/__dlnotes__/static/{name}")
        assert code == 200 and '"use strict"' in js
    good = {"Origin": served.url, "X-Dlnotes-Token": token[1], "Cookie": served.cookie}
    page = served.root / "docs/cnn/sharing.md"
    before = page.read_bytes()
    for bad in (
        {"Origin": "http://evil.example"},
        {"X-Dlnotes-Token": "x" * 43},
        {"Cookie": served.cookie[:-2] + "xx"},
    ):
        assert post_json(served.url, RESOLVE, {**good, **bad})[0] == 403
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
        if "dlnotes reopen Q-cnn-03" in _get(served.url + "/cnn/sharing/")[2]:
            break
        time.sleep(0.3)
    else:
        pytest.fail("the page was not rebuilt with the new state")


def test_login_link_file_and_cookie(served: Served) -> None:
    assert served.login_file.stat().st_mode & 0o777 == 0o600
    assert served.login_file.parent.stat().st_mode & 0o777 == 0o700
    log = served.log.read_text(encoding="utf-8")
    assert served.login_url in log and str(served.login_file) in log
    opener = urllib.request.build_opener(_NoRedirect)
    for url in (
        served.login_url.replace("token=", "token=x"),
        served.login_url.split("?")[0],
    ):
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(url, timeout=10)
        assert err.value.code == 403 and "Set-Cookie" not in err.value.headers
    for target, expected in (
        ("/cnn/sharing/", "/cnn/sharing/"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        query = urllib.parse.urlencode({"next": target})
        with pytest.raises(urllib.error.HTTPError) as err:
            opener.open(f"{served.login_url}&{query}", timeout=10)
        assert err.value.code == 303
        assert err.value.headers["Location"] == expected
        cookie = err.value.headers["Set-Cookie"]
        assert cookie == f"{served.cookie}; HttpOnly; SameSite=Strict; Path=/"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@pytest.mark.parametrize(
    "path", ["/", "/cnn/sharing/", "/search/search_index.json", "/__dlnotes__/login"]
)
def test_a_foreign_host_gets_nothing_on_any_path(served: Served, path: str) -> None:
    """DNS rebinding: a page of evil.example resolved to 127.0.0.1 reads nothing."""
    for host in (f"evil.example:{served.port}", "127.0.0.1", "127.0.0.1:1"):
        status, _, body = _get(
            served.url + path, {"Host": host, "Cookie": served.cookie}
        )
        assert status == 403 and "unexpected Host" in body
        assert "Q-cnn-01" not in body


def _raw(served: Served, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


HOST = b"Host: 127.0.0.1:PORT\r\n"


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (b"GET /cnn/%00/ HTTP/1.1\r\n" + HOST + b"\r\n", 400),
        (b"GET /%ff%fe/\x00 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
        (b"GET /" + b"a/" * 3000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 404),
        (b"GET /__dlnotes__/login?token=%ff%00 HTTP/1.1\r\n" + HOST + b"\r\n", 403),
        (b"GET /__dlnotes__/static/../x.py HTTP/1.1\r\n" + HOST + b"\r\n", 404),
        (
            b"POST /__dlnotes__/api HTTP/1.1\r\n" + HOST + b"Content-Length: x\r\n\r\n",
            403,
        ),
        (
            b"POST /__dlnotes__/api HTTP/1.1\r\n"
            + HOST
            + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            403,
        ),
        # a cookie header the parser rejects: the page, without controls
        (b"GET /cnn/sharing/ HTTP/1.1\r\n" + HOST + b'Cookie: =;;"\\\r\n\r\n', 200),
        (b"GET http://evil.example/cnn/sharing/ HTTP/1.1\r\n\r\n", 403),
    ],
)
def test_malformed_requests_never_get_500(
    served: Served, request_: bytes, expected: int
) -> None:
    answer = _raw(served, request_.replace(b"PORT", str(served.port).encode()))
    assert int(answer.split(b" ", 2)[1]) == expected, answer[:300]
    assert b"Traceback" not in answer and b"dlnotes-session" not in answer
    log = served.log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_the_host_check_stays_when_the_controls_are_off(tmp_path: Path) -> None:
    make_site(tmp_path)
    config = tmp_path / "mkdocs.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            "      vendor: false\n",
            "      vendor: false\n"
            "      serve_controls: false\n"
            "      run_blocks: false\n",
        ),
        encoding="utf-8",
    )
    server = Served(tmp_path)
    try:
        assert server.login_url == ""  # nothing to log in to
        assert _get(server.url + "/cnn/sharing/")[0] == 200
        status, _, body = _get(
            server.url + "/cnn/sharing/", {"Host": f"evil.example:{server.port}"}
        )
        assert status == 403 and "Q-cnn-01" not in body
    finally:
        server.stop()
