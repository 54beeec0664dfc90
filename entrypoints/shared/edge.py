"""What every request to the app passes first and every answer last: the Host check, the public URL
and the security headers (`Edge`, the outermost middleware).

- **Host**: a request whose Host header names neither the host of the public URL (`PM_PUBLIC_URL`),
  the address the API binds to, nor a loopback name is refused with 400 and one line, before any
  route runs: no answer is built for a host a caller made up (DNS rebinding, poisoned links).
- **Public URL**: past that check the request's scheme and host *are* the public URL's, so every
  absolute URL the app makes (redirects, the OpenID Connect `redirect_uri`, FHIR `fullUrl`, the
  pages' links and forms) comes from the setting, never from the request. A staff page asked for
  under another allowed host (`localhost` for `127.0.0.1`) is redirected to the public URL, where its
  cookie lives.
- **Headers** on every answer: `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`,
  `X-Frame-Options: DENY`, a `Content-Security-Policy` with `frame-ancestors 'none'` (the staff
  pages: their own stylesheet and forms, no script at all; the JSON API: nothing; `/docs`:
  Swagger UI's bundle from this service, which `fastapi-offline` installs, and no other host) and,
  behind https, `Strict-Transport-Security`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from entrypoints.shared.problems import refuse

log = structlog.get_logger(__name__)

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD = frozenset({"", "0.0.0.0", "::"})
STAFF_PREFIX = "/staff"
STAFF_CSP = (
    "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (  # Swagger UI: its bundle from this service, its one inline start-up script and styles
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",  # the staff page's "back" link reads the Referer of its own pages
    "x-frame-options": "DENY",
}


def host_name(header: str) -> str:
    """The host of a Host header, lower case, without port or IPv6 brackets ("" when malformed)."""
    value = header.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else ""
    return value.split(":", 1)[0]


def is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class Edge:
    """ASGI middleware: the Host check, the public URL in the request's place, the security headers."""

    def __init__(self, app: ASGIApp, public_url: str, bind_host: str, docs_paths: frozenset[str]) -> None:
        parts = urlsplit(public_url)
        self.app = app
        self.public_url = public_url.rstrip("/")
        self.scheme = parts.scheme
        self.host = parts.hostname or ""
        self.host_header = parts.netloc.encode("latin-1")
        self.server = (self.host, parts.port or (443 if parts.scheme == "https" else 80))
        bind = bind_host.strip("[]").lower()
        self.allowed = {self.host, *LOOPBACK} | ({bind} if bind not in WILDCARD else set())
        self.docs_paths = docs_paths
        self.hsts = parts.scheme == "https"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        host = host_name(Headers(scope=scope).get("host", ""))
        answer: Response | None = None
        if host not in self.allowed:
            log.info("host_refused", path=path)  # not the header itself: it is the caller's text
            detail = f"this service answers only as {self.public_url}: the Host header names another host"
            answer = refuse(Request(scope), 400, detail)
        scope = self._as_public(scope)
        staff_page = is_under(path, STAFF_PREFIX) and scope["method"] in ("GET", "HEAD")
        if answer is None and host != self.host and staff_page:
            answer = RedirectResponse(str(Request(scope).url), status_code=308)
        headers = self._headers(path)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                found = MutableHeaders(scope=message)
                for name, value in headers.items():
                    if name not in found:
                        found[name] = value
            await send(message)

        await (answer or self.app)(scope, receive, send_with_headers)

    def _as_public(self, scope: Scope) -> Scope:
        """The request as if it had been made to the public URL (scheme, Host, server)."""
        headers = [(k, v) for k, v in scope["headers"] if k != b"host"]
        return {
            **scope,
            "scheme": self.scheme,
            "server": self.server,
            "headers": [*headers, (b"host", self.host_header)],
        }

    def _headers(self, path: str) -> dict[str, str]:
        if is_under(path, STAFF_PREFIX):
            csp = STAFF_CSP
        elif path in self.docs_paths:
            csp = DOCS_CSP
        else:
            csp = API_CSP
        extra = {"strict-transport-security": "max-age=31536000"} if self.hsts else {}
        return COMMON | {"content-security-policy": csp} | extra
