"""Who may talk to the server: Host, Origin, the content type of writes, and the bearer token.

The same rules hold on every HTTP route, /mcp included, so a web page the user happens to open can
neither read telemetry through DNS rebinding (its Host is not ours) nor write into it with a form or
a no-cors fetch (its Origin is foreign, and its content type is one a page may send unasked).
"""
from __future__ import annotations

import hmac
import ipaddress
import socket
from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from ..model import InterplayError, UnsupportedMediaType

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# What a page can POST cross-site without a CORS preflight (plus no content type at all).
SIMPLE_TYPES = frozenset({"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"})
CLIENT_HEADER = "x-interplay-client"   # any value: a page cannot set it without a preflight
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Admission:
    """The rules of one server."""

    token: str | None = None
    allowed_hosts: frozenset[str] = LOOPBACK_NAMES
    any_ip: bool = False            # bound to 0.0.0.0 / ::, so any address of the machine is ours
    any_host: bool = False          # --allowed-host '*'
    cors_origins: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def for_bind(cls, host: str, *, token: str | None = None, allowed: tuple[str, ...] = (),
                 cors_origins: tuple[str, ...] = ()) -> Admission:
        """Loopback names, the bound address (and this machine's names when it is not loopback),
        plus the names given with --allowed-host."""
        names = set(LOOPBACK_NAMES) | {_norm(h) for h in allowed if h != "*"}
        wildcard = host in ("0.0.0.0", "::", "")
        if not wildcard:
            names.add(_norm(host))
        if not is_loopback(host):
            names |= {_norm(socket.gethostname()), _norm(socket.getfqdn())}
        return cls(token=token, allowed_hosts=frozenset(names), any_ip=wildcard, any_host="*" in allowed,
                   cors_origins=frozenset(o.rstrip("/").lower() for o in cors_origins))

    def refusal(self, scope) -> InterplayError | None:
        """Why the request must be refused (Forbidden, UnsupportedMediaType), or None."""
        headers = _headers(scope)
        host = headers.get("host", "")
        if not self.host_allowed(host):
            return Forbidden(f"Host {host!r} is not a name this server answers to (DNS rebinding?); "
                             "start it with --allowed-host NAME to add one")
        origin = headers.get("origin")
        if origin is not None and not self.origin_allowed(origin, host):
            return Forbidden(f"cross-origin request from {origin!r} refused; "
                             "start the server with --cors-origin ORIGIN to allow one")
        if scope["method"] not in _READS and CLIENT_HEADER not in headers:
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if media in SIMPLE_TYPES:
                return UnsupportedMediaType(
                    f"{scope['method']} with content type {media or '(none)'!r} refused: any web page can "
                    "send that; use application/json, application/x-protobuf or application/octet-stream, "
                    f"or set the {CLIENT_HEADER} header")
        return None

    def host_allowed(self, host: str) -> bool:
        if self.any_host:
            return True
        name = _host_name(host)
        if not name:
            return False
        if name in self.allowed_hosts:
            return True
        return self.any_ip and _is_ip(name)

    def origin_allowed(self, origin: str, host: str) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.cors_origins:
            return True
        _, sep, netloc = origin.partition("://")
        return bool(sep) and netloc == host.lower()

    def token_ok(self, authorization: str) -> bool:
        """RFC 7235: the scheme is case-insensitive; the token is compared in constant time."""
        if not self.token:
            return True
        scheme, _, given = authorization.strip().partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token.encode())


class Forbidden(InterplayError):
    http_status = 403


class Unauthorized(InterplayError):
    http_status = 401


class AdmissionMiddleware:
    """Host and Origin on every request, the content type of writes, the token on data paths.

    `error_response(scope, exc)` answers a refusal the way the route answers errors.
    """

    def __init__(self, app, admission: Admission, error_response=None) -> None:
        self.app, self.admission = app, admission
        self.error_response = error_response or (lambda scope, exc: JSONResponse(
            {"error": str(exc), "type": type(exc).__name__}, status_code=exc.http_status))

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            refused = self.admission.refusal(scope)
            if refused is None and not self._token_ok(scope):
                refused = Unauthorized("missing or wrong bearer token")
            if refused is not None:
                response = self.error_response(scope, refused)
                if isinstance(refused, Unauthorized):
                    response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _token_ok(self, scope) -> bool:
        if not self.admission.token or not needs_token(scope["path"]) or scope["method"] == "OPTIONS":
            return True
        return self.admission.token_ok(_headers(scope).get("authorization", ""))


def needs_token(path: str) -> bool:
    """The UI page and its static files hold no data; the API, the receivers and MCP do."""
    return path.startswith(("/api/", "/v1/", "/mcp")) and path != "/api/health"


def _headers(scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}


def _host_name(host: str) -> str:
    host = host.strip()
    if host.startswith("["):
        return _norm(host[1:host.find("]")]) if "]" in host else ""
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return _norm(host)


def _norm(name: str) -> str:
    return name.strip().strip("[]").rstrip(".").lower()


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def is_loopback(host: str) -> bool:
    """localhost or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
