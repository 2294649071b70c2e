"""Study controls under ``mkdocs serve``: resolve, reopen and mark-read from the page.

How it works (chosen over a second server so that there is one port, one origin and
nothing else listening):

* ``on_startup(command="serve")`` draws a random token for this run;
* ``on_serve`` wraps the WSGI app of MkDocs' ``LiveReloadServer``
  (``server.get_app()`` / ``server.set_app()``) with :class:`Endpoint`, which answers
  ``POST /__dlnotes__/api`` and passes every other request through. It is installed
  only when the server listens on a loopback address; ``mkdocs serve`` must run with
  ``--livereload`` (the Makefile passes it), or MkDocs never calls ``on_serve``;
* ``on_post_page`` (serve only) adds :data:`SCRIPT` with the token to each page; the
  script turns the control spans of :mod:`dlnotes.kb.render` into buttons.

A request is refused unless it comes from a loopback address, its ``Host`` is the
server's loopback host and port, its ``Origin`` is that same origin, it carries the
token in ``X-Dlnotes-Token``, its JSON body is at most :data:`MAX_BODY` bytes, and it
names a known item. The edit goes through :class:`dlnotes.kb.tracker.Tracker`, the
same code path as the CLI; MkDocs sees the file change, rebuilds and live-reloads the
page, which then shows the new state.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from dlnotes.kb.errors import Ambiguous, NotFound, StudyError
from dlnotes.kb.grammar import CHAPTER_ID_RE, QUESTION_ID_RE, RESOURCE_ID_RE
from dlnotes.kb.tracker import Tracker

log = logging.getLogger("mkdocs.plugins.dlnotes.serve")

API_PATH = "/__dlnotes__/api"
TOKEN_HEADER = "HTTP_X_DLNOTES_TOKEN"
MAX_BODY = 64 * 1024


# action -> (ID pattern, status it sets)
ACTIONS: dict[str, tuple[re.Pattern[str], str]] = {
    "resolve": (QUESTION_ID_RE, "resolved"),
    "reopen": (QUESTION_ID_RE, "open"),
    "read": (RESOURCE_ID_RE, "read"),
    "digest": (RESOURCE_ID_RE, "digested"),
    "unread": (RESOURCE_ID_RE, "unread"),
    "start": (CHAPTER_ID_RE, "doing"),
    "done": (CHAPTER_ID_RE, "done"),
    "todo": (CHAPTER_ID_RE, "todo"),
}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

REASONS = {
    200: "OK",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    500: "Internal Server Error",
}


def is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Refused(Exception):
    """A request the endpoint answers with an error status and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


Handler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class Endpoint:
    """WSGI middleware: the dlnotes API in front of MkDocs' live-reload app.

    One security layer for every action: the study controls
    (:func:`study_handlers`) and the Run buttons
    (:meth:`dlnotes.runner.pool.KernelPool.handlers`) only see requests that
    passed it.
    """

    def __init__(
        self,
        app: WSGIApp | None,
        token: str,
        host: str,
        port: int,
        handlers: dict[str, Handler],
    ) -> None:
        self.app = app
        self.token = token
        self.port = port
        self.handlers = dict(handlers)
        # A non-loopback server gets no allowed Host at all: every request is refused.
        names = ("127.0.0.1", "localhost", "[::1]") if is_loopback(host) else ()
        self.hosts = {f"{name}:{port}" for name in names}

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != API_PATH:
            if self.app is None:
                start_response("404 Not Found", [("Content-Type", "text/plain")])
                return [b"not found"]
            return self.app(environ, start_response)
        code, payload = self.handle(environ)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        start_response(
            f"{code} {REASONS.get(code, '')}".strip(),
            [
                ("Content-Type", "application/json; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``(status code, JSON payload)`` for one API request."""

        def refuse(code: int, message: str) -> tuple[int, dict[str, Any]]:
            log.warning("dlnotes: refused a request (%d): %s", code, message)
            return code, {"ok": False, "error": message}

        if environ.get("REQUEST_METHOD") != "POST":
            return refuse(405, "only POST")
        if not is_loopback(str(environ.get("REMOTE_ADDR", ""))):
            return refuse(403, "only from this machine")
        host = str(environ.get("HTTP_HOST", ""))
        if host not in self.hosts:
            return refuse(403, f"unexpected Host {host!r}")
        origin = environ.get("HTTP_ORIGIN")
        if origin != f"http://{host}":
            return refuse(403, f"cross-origin request refused (Origin {origin!r})")
        fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
        if fetch_site not in (None, "same-origin"):
            return refuse(403, f"cross-site request refused ({fetch_site})")
        token = str(environ.get(TOKEN_HEADER, ""))
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return refuse(403, "bad or missing token (reload the page)")
        ctype = str(environ.get("CONTENT_TYPE", "")).split(";")[0].strip().lower()
        if ctype != "application/json":
            return refuse(415, "the body must be application/json")
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return refuse(411, "Content-Length required")
        if length < 0 or length > MAX_BODY:
            return refuse(413, f"body larger than {MAX_BODY} bytes")
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return refuse(400, "the body is not JSON")
        if not isinstance(data, dict):
            return refuse(400, "the body must be a JSON object")
        action = data.get("action")
        handler = self.handlers.get(action) if isinstance(action, str) else None
        if handler is None:
            return refuse(400, f"unknown action {action!r}")
        try:
            return handler(data)
        except Refused as exc:
            return refuse(exc.code, str(exc))


def study_handlers(tracker: Tracker) -> dict[str, Handler]:
    """The study controls: resolve/reopen questions, mark resources and chapters."""

    def handler(action: str) -> Handler:
        pattern, status = ACTIONS[action]

        def handle(data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
            item_id, answer = data.get("id"), data.get("answer")
            if not isinstance(item_id, str) or not pattern.fullmatch(item_id):
                raise Refused(404, f"unknown ID {item_id!r}")
            if answer is not None and not isinstance(answer, str):
                raise Refused(400, "answer must be a string")
            try:
                if action == "resolve":
                    q = tracker.resolve(item_id, answer=answer or None)
                    result: dict[str, Any] = {"id": q.id, "status": q.status}
                elif action == "reopen":
                    q = tracker.reopen(item_id)
                    result = {"id": q.id, "status": q.status}
                elif pattern is RESOURCE_ID_RE:
                    r = tracker.set_resource(item_id, status)
                    result = {"id": r.id, "status": r.status}
                else:
                    c = tracker.set_chapter(item_id, status)
                    result = {"id": c.id, "status": c.status}
            except NotFound as exc:
                raise Refused(404, str(exc)) from None
            except (Ambiguous, StudyError) as exc:
                raise Refused(409, str(exc)) from None
            except OSError as exc:
                raise Refused(500, f"cannot write: {exc}") from None
            log.info("dlnotes: %s %s -> %s", action, item_id, result["status"])
            return 200, {"ok": True, **result}

        return handle

    return {action: handler(action) for action in ACTIONS}


def page_script(
    token: str, *, study: bool = True, run: dict[str, Any] | None = None
) -> str:
    """The ``<script>`` with the token and the page's controls (serve only).

    ``study`` adds the tracker buttons, ``run`` (a
    :func:`dlnotes.site.run_ui.run_config`) the Run toolbars.
    """
    config: dict[str, Any] = {"endpoint": API_PATH, "token": token}
    parts = [API_SCRIPT] + ([SCRIPT] if study else [])
    if run is not None:
        from dlnotes.site.run_ui import RUN_SCRIPT

        config["run"] = run
        parts.append(RUN_SCRIPT)
    # "<" escaped: code in the config may contain "</script>"
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    return f"<script>window.__dlnotes__ = {data};\n{''.join(parts)}</script>"


API_SCRIPT = r"""
window.__dlnotes__.api = function (body) {
  "use strict";
  var cfg = window.__dlnotes__;
  return fetch(cfg.endpoint, {
    method: "POST",
    credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-Dlnotes-Token": cfg.token},
    body: JSON.stringify(body)
  }).then(function (res) {
    return res.json().catch(function () {
      var why = res.status === 404 ? "（需要 mkdocs serve --livereload）" : "";
      return {ok: false, error: "HTTP " + res.status + why};
    });
  }, function (err) {
    return {ok: false, error: "服务器没有响应（mkdocs serve 还在运行吗？）" + err};
  });
};
"""

SCRIPT = r"""
(function () {
  "use strict";
  var cfg = window.__dlnotes__;
  if (!cfg) return;
  var LABELS = {
    question: {open: [["resolve", "标记为已解决"]], resolved: [["reopen", "重新打开"]]},
    resource: {
      unread: [["read", "标记已读"], ["digest", "标记已消化"]],
      read: [["digest", "标记已消化"], ["unread", "标为未读"]],
      digested: [["unread", "标为未读"]]
    },
    chapter: {
      todo: [["start", "开始"], ["done", "完成"]],
      doing: [["done", "完成"], ["todo", "未开始"]],
      done: [["todo", "未开始"]]
    }
  };
  function post(body, ctl) {
    ctl.classList.add("dl-busy");
    return cfg.api(body).then(function (data) {
      var msg = document.createElement("span");
      msg.className = "dl-msg";
      if (data.ok) {
        msg.textContent = "已保存，正在重新构建…";
        ctl.setAttribute("data-dl-saved", data.status);
        // live reload reloads the page once the rebuild is done; just in case:
        setTimeout(function () { location.reload(); }, 8000);
      } else {
        msg.textContent = "失败：" + (data.error || "未知错误");
        msg.classList.add("dl-error");
        ctl.classList.remove("dl-busy");
      }
      ctl.appendChild(msg);
    });
  }
  function button(text, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "dl-btn";
    b.textContent = text;
    b.setAttribute("data-dl-action", action);
    return b;
  }
  document.querySelectorAll(".dl-ctl[data-dl-id]").forEach(function (ctl) {
    var kind = ctl.getAttribute("data-dl-kind");
    var id = ctl.getAttribute("data-dl-id");
    var status = ctl.getAttribute("data-dl-status");
    var actions = (LABELS[kind] || {})[status] || [];
    ctl.textContent = "";
    actions.forEach(function (pair) {
      var b = button(pair[1], pair[0]);
      ctl.appendChild(b);
      b.addEventListener("click", function () {
        if (pair[0] !== "resolve") { post({action: pair[0], id: id}, ctl); return; }
        if (ctl.querySelector("textarea")) return;
        var box = document.createElement("span");
        box.className = "dl-answer";
        var area = document.createElement("textarea");
        area.rows = 4;
        area.placeholder = "答案（可选，Markdown）";
        var save = button("保存", "save");
        var cancel = button("取消", "cancel");
        box.appendChild(area); box.appendChild(save); box.appendChild(cancel);
        ctl.appendChild(box);
        area.focus();
        save.addEventListener("click", function () {
          post({action: "resolve", id: id, answer: area.value}, ctl);
        });
        cancel.addEventListener("click", function () { box.remove(); });
      });
    });
  });
})();
"""
