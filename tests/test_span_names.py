"""Span names that are raw URLs: a route is one operation (`{id}` for identifiers), the name as sent
is kept; investigations over such names find what they find over templated ones."""
from __future__ import annotations

import json
import random
import string

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from interplay.model_results import to_json
from interplay.otlp.span_names import ORIGINAL_NAME, route_of
from test_rca_helpers import ONSET, jitter, load, requests


@pytest.mark.parametrize("name, route", [
    ("GET /orders/8812", "GET /orders/{id}"),
    ("GET /orders/8812?expand=items#top", "GET /orders/{id}"),
    ("/product/OLJCESPC7Z", "/product/{id}"),
    ("/product/66VCHSJNUP", "/product/{id}"),
    ("GET /api/v1/users/550e8400-e29b-41d4-a716-446655440000/cart", "GET /api/v1/users/{id}/cart"),
    ("DELETE /blobs/deadbeef12", "DELETE /blobs/{id}"),
    ("GET /u/:id/posts/31", "GET /u/:id/posts/{id}"),
    # left as they are: templates, words, versions, gRPC methods, SQL, model calls
    ("GET /products/{id}", "GET /products/{id}"),
    ("POST /api/v2/ts-order-service/orders", "POST /api/v2/ts-order-service/orders"),
    ("GET /auth/oauth2callback", "GET /auth/oauth2callback"),
    ("GET /api/v1beta1/things", "GET /api/v1beta1/things"),
    ("GET /static/app.js", "GET /static/app.js"),
    ("hipstershop.CartService/GetCart", "hipstershop.CartService/GetCart"),
    ("/hipstershop.RecommendationService/ListRecommendations", "/hipstershop.RecommendationService/ListRecommendations"),
    ("SELECT products", "SELECT products"),
    ("chat gpt-4o", "chat gpt-4o"),
])
def test_identifiers_in_a_path_become_one_route(name, route):
    assert route_of(name) == route


def test_a_raw_url_sent_by_the_sdk_is_stored_by_its_route_with_the_name_kept(server):
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{server.url}/v1/traces")))
    tracer = provider.get_tracer("test")
    for order in ("1001", "1002", "77F3A9C2"):
        with tracer.start_as_current_span(f"GET /orders/{order}", kind=SpanKind.SERVER):
            pass
    with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER):
        pass
    provider.shutdown()
    operations = {o["operation"]: o for o in server.get("/api/operations", params={"service": "shop"}).json()}
    assert set(operations) == {"GET /orders/{id}", "GET /health"}, operations
    assert operations["GET /orders/{id}"]["calls"] == 3
    traces = server.get("/api/traces", params={"service": "shop", "limit": "10"}).json()
    names = set()
    for t in traces:
        for span in server.get(f"/api/traces/{t['trace_id']}").json()["roots"]:
            names.add((span["operation"], json.loads(span["attributes"] or "{}").get(ORIGINAL_NAME)))
    assert names == {("GET /orders/{id}", "GET /orders/1001"), ("GET /orders/{id}", "GET /orders/1002"),
                     ("GET /orders/{id}", "GET /orders/77F3A9C2"), ("GET /health", None)}


def test_an_investigation_over_raw_urls_finds_the_slow_callee(tmp_path):
    """Every request's root span carries its own product id (hundreds of them); after the onset
    catalog answers slowly. One route, one entry point: catalog is found, blind."""
    ids = ["".join(random.Random(i).choices(string.ascii_uppercase + string.digits, k=10)) for i in range(400)]

    def build(tb, t, bad, rng):
        root = tb.span("frontend", f"GET /product/{rng.choice(ids)}", duration_ms=0)
        c = root.child("frontend", "call catalog", kind="CLIENT", offset_ms=1, duration_ms=0)
        s = c.child("catalog", "GET /products/{id}", kind="SERVER", offset_ms=0.3,
                    duration_ms=jitter(rng, 120 if bad else 8))
        c.end_ns = s.end_ns + int(0.3e6)
        root.end_ns = c.end_ns + int(2e6)
    r = to_json(load(tmp_path, requests(build, minutes=40, every_s=2.0)).investigate())
    assert r["root_causes"][0]["service"] == "catalog", [c["service"] for c in r["root_causes"]]
    assert [e["operation"] for e in r["symptom"]["entry_points"]] == ["GET /product/{id}"]
    assert abs(r["windows"]["incident"]["since_ns"] - ONSET) < 2 * 60 * 10**9
