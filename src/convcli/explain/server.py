"""The local web server behind ``convcli explain``: the packaged page and a small JSON API.

Python's threaded ``http.server`` is enough for one local user and adds no dependency. Routes:

- ``GET /`` (``/index.html``), ``/app.js``, ``/style.css``, ``/i18n.js`` and ``/i18n-es.js``
  (the page's language switch and its Spanish, from the catalog): the page, read once from the
  package; no other path is ever mapped to a file.
- ``GET /api/model``: name, input shape, class names, layers with their arithmetic, templates.
- ``POST /api/predict``: JSON ``{"pixels": H×W}`` or ``{"image": base64}`` (optionally
  ``"layers": [names]``), or raw image bytes with an ``image/*`` content type.
- ``POST /api/arithmetic``: JSON ``{"pixels", "layer", "filter", "row", "col"}``.

Bad requests get a 4xx status and ``{"error": message}``, also those ``http.server`` answers
itself: another method on a known path is 405 with an ``Allow`` header, an unknown path 404. The
server keeps serving. Messages are in the language the request's ``Accept-Language`` asks for
(the page sends its own: English or Spanish), whatever the process's language.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConvcliError, input_error
from ..i18n import N_, accepted, retranslate, speak
from ..i18n import tr as _
from .probe import Explainer

MAX_BODY = 16 * 1024 * 1024
"""Request bodies above this many bytes are refused (413)."""
PYTHON_MESSAGES = (
    N_("Bad request version ({version})"),
    N_("Invalid HTTP version ({version})"),
    N_("Bad request syntax ({line})"),
    N_("Bad HTTP/0.9 request type ({method})"),
    N_("Line too long"),
    N_("Too many headers"),
    N_("Request-URI Too Long"),
)
"""What ``http.server`` says when it refuses a request itself (its %r fields written as {fields}):
the JSON error carries it in the request's language, which is the process's, as these come
before the request's Accept-Language could be read."""
MAX_DISCARD = 64 * 1024 * 1024
"""A refused body up to this size is read and dropped after the 413, so that clients that send
the whole body before reading (Python's urllib) get the JSON answer, not a broken pipe."""
STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
    "/i18n.js": ("i18n.js", "text/javascript; charset=utf-8"),
    "/i18n-es.js": ("i18n-es.js", "text/javascript; charset=utf-8"),
}
POST_PATHS = ("/api/predict", "/api/arithmetic")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; object-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str) -> str | None:
    """A warning to show when the server would be reachable from other machines."""
    if is_loopback(host):
        return None
    message = _(
        "listening on {host}: anyone who can reach this machine can use the page and the API "
        "(the default, 127.0.0.1, keeps it local)"
    )
    return message.format(host=host)


def packaged_static() -> dict[str, tuple[bytes, str]]:
    """The page's files, read from the installed package (never from a request's path)."""
    folder = resources.files(__package__) / "static"
    return {route: ((folder / name).read_bytes(), kind) for route, (name, kind) in STATIC.items()}


class ExplainServer(ThreadingHTTPServer):
    """A threaded HTTP server holding one :class:`Explainer` and the packaged page."""

    daemon_threads = True

    def __init__(self, explainer: Explainer, host: str = "127.0.0.1", port: int = 0, *, max_body: int = MAX_BODY):
        self.explainer = explainer
        self.max_body = max_body
        self.static = packaged_static()
        self.allowed_hosts = {"localhost", "127.0.0.1", "[::1]", host.lower(), f"[{host.lower().strip('[]')}]"}
        self.check_host = is_loopback(host)
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        self.address_family = infos[0][0]
        super().__init__((host.strip("[]"), port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a browser closing a connection early is normal; bugs already answer 500."""

    @property
    def url(self) -> str:
        """``http://HOST:PORT/`` for the bound address (IPv6 hosts in brackets)."""
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else str(host)
        return f"http://{shown}:{port}/"


def open_server(
    model_path: str | os.PathLike[str], *, host: str = "127.0.0.1", port: int = 0, max_body: int = MAX_BODY
) -> ExplainServer:
    """Load the model (safe mode), then bind ``host:port`` (0: a free port). Call
    ``serve_forever()`` on the result and ``server_close()`` when done."""
    if isinstance(port, bool) or not 0 <= port <= 65535:
        raise input_error(_("port must be from 0 to 65535, got {port}").format(port=port))
    explainer = Explainer.from_file(model_path)
    try:
        return ExplainServer(explainer, host, port, max_body=max_body)
    except OSError as exc:  # busy port, unknown host, no permission
        message = _("cannot listen on {host}:{port} ({reason})")
        raise input_error(message.format(host=host, port=port, reason=exc.strerror or exc)) from None


class _Handler(BaseHTTPRequestHandler):
    server: ExplainServer
    server_version = "convcli-explain"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a local page needs no access log (and nothing below the CLI prints)."""

    def handle(self) -> None:
        try:
            super().handle()
        except ConnectionError:  # the browser went away mid-answer (a newer drawing, a closed tab)
            self.close_connection = True

    def parse_request(self) -> bool:
        """Read the request line and headers, then answer in the language its ``Accept-Language``
        asks for (the page sends its own): error messages in English or Spanish per request."""
        speak("")
        parsed = super().parse_request()
        if parsed:
            speak(accepted(self.headers.get("Accept-Language")))
        return parsed

    def _send(self, status: int, body: bytes, kind: str, *, close: bool = False, allow: str | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if allow is not None:
            self.send_header("Allow", allow)
        self.send_header("Content-Length", str(len(body)))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, obj: Any, *, close: bool = False, allow: str | None = None) -> None:
        self._send(status, json.dumps(obj, allow_nan=False).encode(), "application/json", close=close, allow=allow)

    def _error(self, status: int, message: str, *, close: bool = False, allow: str | None = None) -> None:
        self._json(status, {"error": message}, close=close, allow=allow)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors ``http.server`` answers itself, as JSON too; a method with no handler (PUT,
        DELETE, …) gets 405 on a known path and 404 elsewhere instead of 501."""
        if code == HTTPStatus.NOT_IMPLEMENTED and self.command:
            self._wrong_method(urlsplit(self.path).path)
            return
        self._error(code, retranslate(message or HTTPStatus(code).phrase, PYTHON_MESSAGES), close=True)

    def _wrong_method(self, path: str, message: str | None = None) -> None:
        """405 naming the methods ``path`` takes (in ``Allow`` too), or 404 for an unknown path."""
        if path in POST_PATHS:
            allow = "POST"
        elif path in self.server.static or path == "/api/model":
            allow = "GET, HEAD"
        else:
            self._error(
                HTTPStatus.NOT_FOUND,
                message or _("not found: no page or API endpoint {path}").format(path=path),
                close=True,
            )
            return
        message = message or _("{method} is not allowed on {path}: use {allow}").format(
            method=self.command, path=path, allow=allow
        )
        self._error(HTTPStatus.METHOD_NOT_ALLOWED, message, close=True, allow=allow)

    def _host_ok(self) -> bool:
        """Refuse other Host headers on a loopback server (DNS-rebinding pages)."""
        if not self.server.check_host:
            return True
        host = (self.headers.get("Host") or "").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name in self.server.allowed_hosts:
            return True
        message = _("unexpected Host header {host}: open the URL convcli printed").format(host=repr(host))
        self._error(HTTPStatus.FORBIDDEN, message)
        return False

    def do_GET(self) -> None:
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        if path in self.server.static:
            body, kind = self.server.static[path]
            self._send(HTTPStatus.OK, body, kind)
        elif path == "/api/model":
            self._json(HTTPStatus.OK, self.server.explainer.model_info())
        elif path in POST_PATHS:
            self._wrong_method(path)
        elif path.startswith("/api/"):
            message = _("no API endpoint {path}: use /api/model, /api/predict, /api/arithmetic").format(path=path)
            self._error(HTTPStatus.NOT_FOUND, message)
        else:
            self._error(HTTPStatus.NOT_FOUND, _("not found: only the page's own files are served"))

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if not self._host_ok():
            return
        path = urlsplit(self.path).path
        if path not in POST_PATHS:
            self._wrong_method(path, _("POST is for /api/predict and /api/arithmetic, not {path}").format(path=path))
            return
        body = self._body()
        if body is None:
            return
        try:
            self._json(HTTPStatus.OK, self._answer(path, body))
        except ConvcliError as exc:
            self._error(HTTPStatus.BAD_REQUEST, exc.message)
        except ConnectionError:
            raise
        except Exception as exc:  # a bug of ours: answer 500 and keep serving
            self._error(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                _("internal error: {kind}: {error}").format(kind=type(exc).__name__, error=exc),
            )

    def _body(self) -> bytes | None:
        """The request body, or None after answering 411/413/400 (the body left unread)."""
        length = self.headers.get("Content-Length")
        if length is None:
            self._error(HTTPStatus.LENGTH_REQUIRED, _("a Content-Length header is required"), close=True)
            return None
        if not length.strip().isdigit():
            self._error(
                HTTPStatus.BAD_REQUEST, _("bad Content-Length {length}").format(length=repr(length)), close=True
            )
            return None
        if int(length) > self.server.max_body:
            self._too_large()
            self._discard(int(length))
            return None
        return self.rfile.read(int(length))

    def _too_large(self) -> None:
        limit = self.server.max_body
        message = _("request body over the {limit}-byte limit").format(limit=f"{limit:,}")
        self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message, close=True)

    def _discard(self, length: int) -> None:
        """After the 413, read and drop a refused body (up to MAX_DISCARD bytes, until the client
        pauses for a second), so that a client still sending it reads the answer, not a reset."""
        self.wfile.flush()
        self.connection.settimeout(1.0)
        left = min(length, MAX_DISCARD)
        try:
            while left > 0:
                chunk = self.rfile.read1(min(left, 1 << 20))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass

    def handle_expect_100(self) -> bool:
        """``Expect: 100-continue``: a body over the limit is refused before the client sends it."""
        length = self.headers.get("Content-Length") or ""
        if self.command == "POST" and length.strip().isdigit() and int(length) > self.server.max_body:
            self._too_large()
            return False
        return super().handle_expect_100()

    def _answer(self, path: str, body: bytes) -> dict[str, Any]:
        kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        explainer = self.server.explainer
        if kind.startswith("image/") or kind == "application/octet-stream":
            if path != "/api/predict":
                raise input_error(_("{path} takes JSON, not image bytes").format(path=path))
            return explainer.predict(image=body)
        if kind != "application/json":
            message = _("unsupported Content-Type {kind}: send application/json or image bytes")
            raise input_error(message.format(kind=repr(kind or "none")))
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):
            raise input_error(_("the body is not valid JSON")) from None
        if not isinstance(request, dict):
            raise input_error(_("the JSON body must be an object"))
        allowed = (
            {"pixels", "image", "layers"} if path == "/api/predict" else {"pixels", "layer", "filter", "row", "col"}
        )
        unknown = sorted(set(request) - allowed)
        if unknown:
            message = _("unknown field(s) {fields}; {path} takes {allowed}")
            raise input_error(message.format(fields=", ".join(unknown), path=path, allowed=", ".join(sorted(allowed))))
        if path == "/api/predict":
            return explainer.predict(**request)
        for key in ("pixels", "layer", "filter"):
            if key not in request:
                raise input_error(_("{path} needs {key}").format(path=path, key=repr(key)))
        return explainer.arithmetic(**request)
