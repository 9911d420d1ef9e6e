"""Codes export: response codes kept, span status never set, as many real exports look.

Instrumentation records `http.response.status_code` (and gRPC's `rpc.grpc.status_code`) but nobody sets
the span status, and `error.type` is absent (older conventions, or a converter that drops it). Span
kinds, protocol attributes, exception events and logs stay as the SDK wrote them.

The shop's backends speak gRPC in this export, as OnlineBoutique's do: their server spans and the client
spans calling them follow the RPC conventions instrumentations emit by default (semconv <= 1.37:
`rpc.system`, `rpc.service`, `rpc.method`, numeric `rpc.grpc.status_code`, span name
`package.Service/Method`), with the HTTP answer mapped to the gRPC code a server would return. The
agentic topology keeps HTTP but for two small internal services, so both families appear everywhere. The
travel holdout is REST throughout, as ticket-booking systems of its shape often are: its codes export reads
HTTP status codes only.
"""

from __future__ import annotations

from ._bare import _service

GRPC_SERVICES = {
    "shop": ("catalog", "cart", "checkout", "payment", "shipping", "currency", "recommendation", "email"),
    "agentic": ("auth", "pricing"),
    "travel": (),
}
_METHODS = {
    "GET /products": "ListProducts", "GET /products/{id}": "GetProduct", "GET /cart": "GetCart",
    "POST /cart": "AddItem", "POST /checkout": "PlaceOrder", "POST /charge": "Charge", "GET /quote": "GetQuote",
    "GET /convert": "Convert", "GET /recommendations": "ListRecommendations",
    "POST /send": "SendOrderConfirmation", "GET /session": "GetSession", "GET /prices": "GetPrices",
}
# The code a gRPC server answers where the HTTP service answered this status (a 500 is an unhandled
# exception: UNKNOWN, as grpc-python and grpc-java report it).
_GRPC_CODE = {200: 0, 400: 3, 404: 5, 409: 10, 422: 9, 429: 8, 500: 2, 502: 14, 503: 14, 504: 4}
DEADLINE_EXCEEDED = 4
_HTTP_ONLY = ("http.", "url.", "network.protocol.")
SERVER, CLIENT = 2, 3
_SQLSTATE = {"DeadlockDetected": "40P01"}


def grpc_name(topology: str, service: str, endpoint: str) -> str | None:
    """`package.Service/Method` of `service`'s `endpoint` in the codes export, or None where it speaks HTTP."""
    if service not in GRPC_SERVICES.get(topology, ()):
        return None
    return f"{_grpc_service(topology, service)}/{_method(endpoint)}"


def codes_spans(topology: str):
    """A span transform for one topology: drop status and `error.*`, keep codes, gRPC where the topology has it."""
    grpc = set(GRPC_SERVICES.get(topology, ()))

    def transform(doc: dict) -> None:
        for rs in doc.get("resourceSpans", ()):
            service = _service(rs)
            for ss in rs.get("scopeSpans", ()):
                for span in ss.get("spans", ()):
                    attrs = {a["key"]: a["value"] for a in span.get("attributes", ())}
                    errored = span.get("status", {}).get("code") == 2
                    span["status"] = {}
                    callee = _callee(span, attrs, service)
                    if callee in grpc:
                        _to_grpc(span, attrs, topology, callee)
                    elif errored and "db.system" in attrs and "db.response.status_code" not in attrs:
                        code = _SQLSTATE.get(_exception_type(span))
                        if code:
                            attrs["db.response.status_code"] = {"stringValue": code}
                    attrs.pop("error.type", None)
                    if attrs:
                        span["attributes"] = [{"key": k, "value": v} for k, v in attrs.items()]
                    else:
                        span.pop("attributes", None)
    return transform


def _callee(span: dict, attrs: dict, service: str) -> str | None:
    """The service answering this HTTP exchange: the span's own (server) or the one it calls (client)."""
    if "http.request.method" not in attrs:
        return None
    if span.get("kind") == SERVER:
        return service
    if span.get("kind") == CLIENT:
        return attrs.get("server.address", {}).get("stringValue")
    return None


def _to_grpc(span: dict, attrs: dict, topology: str, callee: str) -> None:
    status = attrs.get("http.response.status_code")
    if status is None:  # the client gave up waiting: gRPC reports its own deadline
        code = DEADLINE_EXCEEDED
    else:
        http = int(status["intValue"])
        code = _GRPC_CODE.get(http, 0 if http < 400 else 3 if http < 500 else 2)
    endpoint = span["name"]
    for key in [k for k in attrs if k.startswith(_HTTP_ONLY)]:
        del attrs[key]
    span["name"] = grpc_name(topology, callee, endpoint)
    attrs.update({"rpc.system": {"stringValue": "grpc"},
                  "rpc.service": {"stringValue": _grpc_service(topology, callee)},
                  "rpc.method": {"stringValue": _method(endpoint)},
                  "rpc.grpc.status_code": {"intValue": str(code)}})


def _grpc_service(topology: str, service: str) -> str:
    return f"{topology}.{service.capitalize()}Service"


def _method(endpoint: str) -> str:
    if endpoint in _METHODS:
        return _METHODS[endpoint]
    verb, route = endpoint.split(" ", 1)
    words = [w for w in route.split("/") if w and not w.startswith("{")]
    return verb.capitalize() + "".join(w.capitalize() for w in words)


def _exception_type(span: dict) -> str:
    for event in span.get("events", ()):
        for a in event.get("attributes", ()):
            if a["key"] == "exception.type":
                return a["value"].get("stringValue", "")
    return ""

