"""WSGI helpers for the serve-endpoint tests: a fake environ and a JSON POST."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from typing import Any

from dlnotes.site.serve import API_PATH, Session

TOKEN = "t0ken-for-tests"
PORT = 8123
SESSION = Session(PORT, login="l0gin-for-tests", cookie="c00kie-for-tests", token=TOKEN)
COOKIE = f"{SESSION.cookie_name}={SESSION.cookie}"


def passthrough(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"site"]


def environ(body: Any = None, **overrides: Any) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    env: dict[str, Any] = {
        "PATH_INFO": API_PATH,
        "REQUEST_METHOD": "POST",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": f"127.0.0.1:{PORT}",
        "HTTP_ORIGIN": f"http://127.0.0.1:{PORT}",
        "HTTP_SEC_FETCH_SITE": "same-origin",
        "HTTP_X_DLNOTES_TOKEN": TOKEN,
        "HTTP_COOKIE": COOKIE,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(raw)),
        "wsgi.input": io.BytesIO(raw),
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def post_json(
    url: str, body: Any, headers: dict[str, str]
) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url + API_PATH,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())
