"""The HTTP endpoint under ``mkdocs serve``: login, page controls, the API.

Trust follows the model of Jupyter Server. At start the plugin draws a
:class:`Session`: a login secret, a session cookie value and a per-run token. It prints
the login link (``http://127.0.0.1:PORT/__dlnotes__/login?token=...``) in the terminal
and writes it to a file only the user can read (:func:`write_login_file`). Opening the
link sets an ``HttpOnly``, ``SameSite=Strict`` cookie and redirects to the site.

:class:`Endpoint` wraps the WSGI app of MkDocs' ``LiveReloadServer`` (installed by the
plugin's ``on_serve``, only when the server listens on a loopback address; MkDocs
calls ``on_serve`` only with ``--livereload``). On every path it refuses a request
whose ``Host`` is not the server's loopback host and port (DNS rebinding) or that does
not come from a loopback address, and answers a request it cannot parse with 400.

* Pages: the plugin leaves a JSON configuration and a marker in each page with
  controls (:func:`page_config`). To a browser with the session cookie the endpoint
  adds the token and the scripts (``dlnotes/site/static/*.js``, served under
  ``/__dlnotes__/static/``); to anyone else it serves the page without them, so the
  page shows the CLI commands instead of buttons, as the static build does.
* ``POST /__dlnotes__/api`` needs the cookie, the token in ``X-Dlnotes-Token``, the
  server's own ``Origin``, a JSON body of at most :data:`MAX_BODY` bytes and a known
  action. Study edits go through :class:`dlnotes.kb.tracker.Tracker`, the same code
  path as the CLI; MkDocs sees the file change, rebuilds and live-reloads the page.
"""

from __future__ import annotations

import hmac
import html
import ipaddress
import json
import logging
import os
import re
import secrets
import stat
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any

from dlnotes.kb.errors import Ambiguous, NotFound, StudyError
from dlnotes.kb.grammar import CHAPTER_ID_RE, QUESTION_ID_RE, RESOURCE_ID_RE
from dlnotes.kb.tracker import Tracker

log = logging.getLogger("mkdocs.plugins.dlnotes.serve")

PREFIX = "/__dlnotes__/"
API_PATH = PREFIX + "api"
LOGIN_PATH = PREFIX + "login"
STATIC_PATH = PREFIX + "static/"
TOKEN_HEADER = "HTTP_X_DLNOTES_TOKEN"
#: Control characters (NUL...) have no place in a path; MkDocs would answer 500.
BAD_PATH = re.compile(r"[\x00-\x1f\x7f]")
MAX_BODY = 64 * 1024

#: The page scripts, in the order they are loaded (``dlnotes/site/static``).
SCRIPTS = ("api.js", "study.js", "run.js", "review.js")
#: Where the plugin leaves the page's controls; the endpoint fills or removes it.
CONFIG_OPEN = '<script type="application/json" id="dlnotes-config">'
CONTROLS_MARK = "<!--dlnotes:controls-->"

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

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

REASONS = {
    200: "OK",
    303: "See Other",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    421: "Misdirected Request",
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


# --------------------------------------------------------------------------- session


@dataclass(frozen=True)
class Session:
    """The secrets of one ``mkdocs serve`` run.

    ``login`` is exchanged once per browser for the cookie ``cookie``; ``token`` is the
    per-run CSRF token the page scripts send with every API request. All three are
    drawn anew at every start, so a link or page from an earlier run is worthless.
    """

    port: int
    login: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cookie: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))

    @property
    def cookie_name(self) -> str:
        # cookies ignore the port: one name per port keeps two servers apart
        return f"dlnotes-session-{self.port}"

    def login_url(self, host: str) -> str:
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}{LOGIN_PATH}?token={self.login}"

    def logged_in(self, environ: dict[str, Any]) -> bool:
        """Whether the request carries this run's session cookie."""
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(str(environ.get("HTTP_COOKIE", "")))
        except CookieError:
            return False
        morsel = jar.get(self.cookie_name)
        return morsel is not None and _same(morsel.value, self.cookie)

    def set_cookie(self) -> str:
        return f"{self.cookie_name}={self.cookie}; HttpOnly; SameSite=Strict; Path=/"


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def runtime_dir() -> Path:
    """The folder of the login file: ``$XDG_RUNTIME_DIR/dlnotes`` or the cache."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    if base and Path(base).is_dir():
        return Path(base) / "dlnotes"
    return Path.home() / ".cache" / "dlnotes"


def write_login_file(url: str, port: int, folder: Path | None = None) -> Path:
    """Write the login link to ``serve-PORT.url``, readable by the user only (0600).

    The folder is created 0700; a folder that belongs to someone else is refused.
    """
    folder = runtime_dir() if folder is None else folder
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(f"{folder} is not a folder of this user")
    if info.st_mode & 0o077:
        folder.chmod(0o700)
    path = folder / f"serve-{port}.url"
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(url + "\n")
    return path


# ------------------------------------------------------------------------ the pages


def page_config(config: dict[str, Any]) -> str:
    """What the plugin adds before ``</body>`` of a page with controls.

    The JSON holds no secret (the endpoint adds the token for a logged-in browser);
    ``<`` is escaped, as code in the configuration may contain ``</script>``.
    """
    data = json.dumps(config, ensure_ascii=False).replace("<", "\\u003c")
    return f"{CONFIG_OPEN}{data}</script>{CONTROLS_MARK}"


def fill_controls(page: str, session: Session | None) -> str:
    """The page as sent: with the token and scripts for ``session``, else without.

    Without a session the configuration is removed as well, so the page carries no
    controls at all.
    """
    end = page.rfind(CONTROLS_MARK)
    if end < 0:
        return page
    if session is None:
        start = page.rfind(CONFIG_OPEN, 0, end)
        start = end if start < 0 else start
        return page[:start] + page[end + len(CONTROLS_MARK) :]
    token = json.dumps({"token": session.token})
    tags = [f'<script type="application/json" id="dlnotes-session">{token}</script>']
    tags += [f'<script src="{STATIC_PATH}{name}"></script>' for name in SCRIPTS]
    return page[:end] + "".join(tags) + page[end + len(CONTROLS_MARK) :]


def static_file(name: str) -> bytes | None:
    """A page script from ``dlnotes/site/static`` (only the known names)."""
    if name not in SCRIPTS:
        return None
    return resources.files("dlnotes.site").joinpath("static", name).read_bytes()


# ------------------------------------------------------------------------ endpoint


class Endpoint:
    """WSGI middleware: the dlnotes login, scripts and API in front of MkDocs' app.

    One security layer for every action: the study controls
    (:func:`study_handlers`) and the Run buttons
    (:func:`dlnotes.site.run_ui.run_handlers`) only see requests that passed it.
    """

    def __init__(
        self,
        app: WSGIApp | None,
        session: Session,
        host: str,
        handlers: dict[str, Handler],
        on_view: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.session = session
        # told the pages a browser shows (the page itself, and the Referer of
        # its livereload and status polls): the serve loop builds those first
        self.on_view = on_view
        self.port = session.port
        self.handlers = dict(handlers)
        # A non-loopback server gets no allowed Host at all: every request is refused.
        names = ("127.0.0.1", "localhost", "[::1]") if is_loopback(host) else ()
        self.hosts = {f"{name}:{self.port}" for name in names}

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        try:
            return self.dispatch(environ, start_response)
        except Exception as exc:  # a request we cannot make sense of: 400, no trace
            log.warning(
                "dlnotes: bad request %r: %s: %s",
                str(environ.get("PATH_INFO", ""))[:200],
                type(exc).__name__,
                exc,
            )
            return _text(start_response, 400, "bad request")

    def dispatch(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if not isinstance(path, str) or BAD_PATH.search(path):
            return _text(start_response, 400, "bad request: malformed path")
        if path == API_PATH:
            code, payload = self.handle(environ)
            return _json(start_response, code, payload)
        refusal = self.refusal(environ)
        if refusal is not None:
            log.warning("dlnotes: refused %s (403): %s", path[:200], refusal)
            return _text(start_response, 403, refusal)
        method = environ.get("REQUEST_METHOD")
        if self.on_view is not None and method == "GET":
            self.on_view(path)
            referer = urllib.parse.urlsplit(str(environ.get("HTTP_REFERER", "")))
            if referer.netloc in self.hosts:
                self.on_view(referer.path)
        if path.startswith(PREFIX):
            if method not in ("GET", "HEAD"):
                return _text(start_response, 405, "only GET")
            if path == LOGIN_PATH:
                return self.login(environ, start_response)
            if path.startswith(STATIC_PATH):
                body = static_file(path[len(STATIC_PATH) :])
                if body is not None:
                    return _send(
                        start_response,
                        200,
                        "text/javascript; charset=utf-8",
                        body,
                        [("Cache-Control", "no-cache")],
                    )
            return _text(start_response, 404, "not found")
        if self.app is None:
            return _text(start_response, 404, "not found")
        return self.page(environ, start_response)

    def refusal(self, environ: dict[str, Any]) -> str | None:
        """Why a request may not be answered at all, or ``None``."""
        if not is_loopback(str(environ.get("REMOTE_ADDR", ""))):
            return "only from this machine"
        host = str(environ.get("HTTP_HOST", ""))
        if host not in self.hosts:
            return f"unexpected Host {host!r}"
        return None

    def login(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        query = urllib.parse.parse_qs(str(environ.get("QUERY_STRING", "")))
        given = (query.get("token") or [""])[0]
        if not _same(given, self.session.login):
            log.warning("dlnotes: refused a login with a wrong secret")
            return _text(
                start_response,
                403,
                "登录链接无效：请打开 mkdocs serve 在终端里打印的链接"
                "（每次启动都会更换）",
            )
        target = (query.get("next") or ["/"])[0]
        if not target.startswith("/") or target.startswith(("//", "/\\")):
            target = "/"
        start_response(
            "303 See Other",
            [
                ("Location", target),
                ("Set-Cookie", self.session.set_cookie()),
                ("Cache-Control", "no-store"),
                ("Content-Length", "0"),
            ],
        )
        return [b""]

    def page(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """Pass the request to MkDocs; fill or strip the controls of HTML pages."""
        seen: dict[str, Any] = {}

        def capture(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            seen["status"], seen["headers"] = status, headers

            def write(data: bytes) -> None:
                raise RuntimeError("write() is not supported")

            return write

        result = self.app(environ, capture)  # type: ignore[misc]
        status, headers = seen["status"], seen["headers"]
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
        if not ctype.startswith("text/html"):
            start_response(status, headers)
            return result
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        session = self.session if self.session.logged_in(environ) else None
        text = fill_controls(body.decode("utf-8", "surrogateescape"), session)
        body = text.encode("utf-8", "surrogateescape")
        headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        if session is not None:
            headers.append(("Cache-Control", "no-store"))
        start_response(status, headers)
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """``(status code, JSON payload)`` for one API request."""

        def refuse(code: int, message: str) -> tuple[int, dict[str, Any]]:
            log.warning("dlnotes: refused a request (%d): %s", code, message)
            return code, {"ok": False, "error": message}

        if environ.get("REQUEST_METHOD") != "POST":
            return refuse(405, "only POST")
        refusal = self.refusal(environ)
        if refusal is not None:
            return refuse(403, refusal)
        host = str(environ.get("HTTP_HOST", ""))
        origin = environ.get("HTTP_ORIGIN")
        if origin != f"http://{host}":
            return refuse(403, f"cross-origin request refused (Origin {origin!r})")
        fetch_site = environ.get("HTTP_SEC_FETCH_SITE")
        if fetch_site not in (None, "same-origin"):
            return refuse(403, f"cross-site request refused ({fetch_site})")
        if not self.session.logged_in(environ):
            return refuse(403, "not logged in: open the link mkdocs serve printed")
        if not _same(str(environ.get(TOKEN_HEADER, "")), self.session.token):
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
        if len(raw) != length:
            return refuse(400, "the body is shorter than its Content-Length")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
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


def _send(
    start_response: StartResponse,
    code: int,
    ctype: str,
    body: bytes,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    start_response(
        f"{code} {REASONS.get(code, '')}".strip(),
        [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("X-Content-Type-Options", "nosniff"),
            *(extra or []),
        ],
    )
    return [body]


def _text(start_response: StartResponse, code: int, message: str) -> list[bytes]:
    body = f"<!doctype html><meta charset=utf-8><title>{code}</title><p>"
    body += html.escape(message) + "\n"
    return _send(start_response, code, "text/html; charset=utf-8", body.encode())


def _json(
    start_response: StartResponse, code: int, payload: dict[str, Any]
) -> list[bytes]:
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _send(
        start_response,
        code,
        "application/json; charset=utf-8",
        body,
        [("Cache-Control", "no-store")],
    )


@contextmanager
def edit_errors() -> Iterator[None]:
    """A tracker edit's errors as HTTP answers: 404 unknown, 409 refused, 500 I/O."""
    try:
        yield
    except NotFound as exc:
        raise Refused(404, str(exc)) from None
    except (Ambiguous, StudyError) as exc:
        raise Refused(409, str(exc)) from None
    except OSError as exc:
        raise Refused(500, f"cannot write: {exc}") from None


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
            with edit_errors():
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
            log.info("dlnotes: %s %s -> %s", action, item_id, result["status"])
            return 200, {"ok": True, **result}

        return handle

    return {action: handler(action) for action in ACTIONS}
