"""Interactions real telemetry shows only between spans or in call paths (issue 17): a delay on one
service's network, calls cut short by a changed answer, a queue falling behind, a pool filled by a
slow callee, exceptions with no span status; and --at / symptoms that do not match the data."""
from __future__ import annotations

import json
import math

import pytest

from interplay.api import Interplay
from interplay.model import InvalidInput, NotFound, TimeRange
from interplay.model_results import to_json
from interplay.testbed import simulate
from interplay.timeutil import format_time, parse_time_ns
from test_rca_helpers import MIN, ONSET, T0, jitter, load, requests


def top(result):
    return [c["service"] for c in result["root_causes"]]


def callers_of_currency(wait, client=True):
    """frontend and checkout both call currency; each exchange with currency spends `wait(bad, rng)`
    ms on the network, while currency's own SERVER spans stay as fast as before. No status. With
    `client` false, no CLIENT spans: each SERVER span hangs right under its caller's span."""
    def call(parent, caller, callee, name, at, d, w):
        if not client:
            return parent.child(callee, name, kind="SERVER", offset_ms=at + w / 2 + 0.2, duration_ms=d)
        c = parent.child(caller, f"call {callee}", kind="CLIENT", offset_ms=at, duration_ms=d + w + 0.4)
        c.child(callee, name, kind="SERVER", offset_ms=w / 2 + 0.2, duration_ms=d)
        return c

    def requests_(tb, t, bad, rng):
        root = tb.span("frontend", "GET /", duration_ms=0)
        end = 1.0
        for callee, ms in (("catalog", 6), ("currency", 2), ("cart", 4)):
            w = wait(bad, rng) if callee == "currency" else jitter(rng, 0.6)
            d = jitter(rng, ms)
            call(root, "frontend", callee, f"serve {callee}", end, d, w)
            end += d + w + 1
        if client:
            co = root.child("frontend", "call checkout", kind="CLIENT", offset_ms=end, duration_ms=0)
            server = co.child("checkout", "PlaceOrder", kind="SERVER", offset_ms=0.2, duration_ms=0)
        else:
            co = server = root.child("checkout", "PlaceOrder", kind="SERVER", offset_ms=end + 0.2, duration_ms=0)
        w = wait(bad, rng)
        c = call(server, "checkout", "currency", "serve currency", 1, 2, w)
        server.end_ns = c.end_ns + int((1 + (0 if client else w / 2)) * 1e6)
        co.end_ns = server.end_ns + int(0.5e6) if client else server.end_ns
        root.end_ns = co.end_ns + int(1e6)
    return requests_


# after the onset every call to currency waits ~400 ms on the network
two_callers_of_currency = callers_of_currency(lambda bad, rng: jitter(rng, 400) if bad else jitter(rng, 0.6))


def _retransmit(bad, rng):
    """After the onset about one exchange in six waits for a TCP retransmit (200 ms or more): the
    median gap does not move, its tail does."""
    if bad and rng.random() < 0.17:
        return 200 * rng.uniform(1.0, 1.15) + (400 if rng.random() < 0.17 else 0)
    return jitter(rng, 0.6)


def test_network_delay_between_spans_is_blamed_on_the_service_every_caller_waits_for(tmp_path):
    ip = load(tmp_path, requests(two_callers_of_currency))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(symptom="frontend", at_ns=ONSET))):
        assert top(r)[0] == "currency", top(r)
        gaps = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "network_gap"]
        assert {e["caller"] for e in gaps} == {"frontend", "checkout"}
        assert all(e["after"] > 100 * e["before"] for e in gaps)
        # the caller's CLIENT span is not its own work: frontend is not the cause
        front = next((c for c in r["root_causes"] if c["service"] == "frontend"), None)
        assert front is None or front["score"] < 0.3 * r["root_causes"][0]["score"]


def test_a_callee_whose_clock_runs_ahead_is_still_answering_calls_not_taking_messages(tmp_path):
    """currency's host clock runs 20 ms ahead: its SERVER spans seem to start after the 3 ms calls
    that caused them have ended, as a queue's consumer does. They last no longer than the calls:
    they are answers, so the delay on currency's network is still found as the calls' gap."""
    def build(tb, t, bad, rng):
        two_callers_of_currency(tb, t, bad, rng)
        for span in tb.spans:
            if span.service == "currency":
                span.start_ns += 20_000_000
                span.end_ns += 20_000_000
    ip = load(tmp_path, requests(build))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(symptom="frontend", at_ns=ONSET))):
        assert top(r)[0] == "currency", [(c["service"], c["summary"]) for c in r["root_causes"]]
        gaps = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "network_gap"]
        assert {e["caller"] for e in gaps} == {"frontend", "checkout"}
        assert not [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "queue_lag"]


def test_with_no_client_spans_the_delay_after_each_answer_is_blamed_on_the_service_that_sent_it(tmp_path):
    """The same delay where no CLIENT span times the calls (each SERVER span hangs right under its
    caller's own span): the time from currency's answer until each caller goes on grew, for both
    callers, and after no other callee. That is currency's network, not the callers' own work."""
    delayed = callers_of_currency(lambda bad, rng: jitter(rng, 400) if bad else jitter(rng, 0.6), client=False)
    ip = load(tmp_path, requests(delayed))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(symptom="frontend", at_ns=ONSET))):
        assert top(r)[0] == "currency", [(c["service"], c["summary"]) for c in r["root_causes"]]
        gaps = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "network_gap"]
        assert {e["caller"] for e in gaps} == {"frontend", "checkout"}
        assert all("no client span" in e["summary"] for e in gaps)


def test_packet_loss_between_spans_is_blamed_on_the_service_every_caller_waits_for(tmp_path):
    ip = load(tmp_path, requests(callers_of_currency(_retransmit)))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(symptom="frontend", at_ns=ONSET))):
        assert top(r)[0] == "currency", top(r)
        gaps = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "network_gap"]
        assert {e["caller"] for e in gaps} == {"frontend", "checkout"}
        # the median did not move: the evidence says how many exchanges turned slow instead
        assert all(e["after"] < e["before"] + 1 and "exchanges over" in e["summary"] for e in gaps), gaps
        front = next((c for c in r["root_causes"] if c["service"] == "frontend"), None)
        assert front is None or front["score"] < 0.5 * r["root_causes"][0]["score"]


def product_page_cut_short(tb, t, bad, rng):
    """frontend calls catalog, then currency, cart and ads; after the onset catalog's answer (no
    error, no latency change) makes frontend skip the rest for most requests."""
    root = tb.span("frontend", "GET /product", duration_ms=0)
    end = 1.0
    for i, callee in enumerate(("catalog", "currency", "cart", "ads")):
        d = jitter(rng, 5)
        c = root.child("frontend", f"call {callee}", kind="CLIENT", offset_ms=end, duration_ms=d + 1)
        c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=0.5, duration_ms=d)
        end += d + 2
        if i == 0 and bad and rng.random() < 0.8:
            break
    root.end_ns = root.start_ns + int((end + jitter(rng, 3)) * 1e6)


def test_calls_that_stop_after_one_callee_point_at_that_callee(tmp_path):
    ip = load(tmp_path, requests(product_page_cut_short))
    r = to_json(ip.investigate())
    assert top(r)[0] == "catalog", top(r)
    cause = r["root_causes"][0]
    shift = [e for e in cause["evidence"] if e["type"] == "path_shift"]
    assert shift and shift[0]["caller"] == "frontend" and shift[0]["after"] > shift[0]["before"] + 0.5
    assert [h["service"] for h in cause["chain"]] == ["catalog", "frontend"]
    assert abs(r["windows"]["incident"]["since_ns"] - ONSET) < 2 * MIN


def order_write_skipped(tb, t, bad, rng, share=0.5, step="INSERT orders"):
    """web places an order through orders, which asks inventory and then writes the order to its
    database (a CLIENT span with nothing behind it, named `step`); web also reads orders, which only
    queries. After the onset inventory's answer (no error, no latency change) makes orders skip the
    write for about `share` of the orders: no other service's calls change at all."""
    if rng.random() < 0.4:
        read = tb.span("web", "GET /orders/{id}", duration_ms=0)
        rc = read.child("web", "call orders", kind="CLIENT", offset_ms=1, duration_ms=0)
        rs = rc.child("orders", "GET /orders/{id}", kind="SERVER", offset_ms=0.5, duration_ms=jitter(rng, 5))
        rs.child("orders", "SELECT orders", kind="CLIENT", offset_ms=1, duration_ms=jitter(rng, 3),
                 attributes={"db.system": "postgresql"})
        rc.end_ns = rs.end_ns + int(0.5e6)
        read.end_ns = rc.end_ns + int(1e6)
        return
    root = tb.span("web", "POST /orders", duration_ms=0)
    c = root.child("web", "call orders", kind="CLIENT", offset_ms=1, duration_ms=0)
    server = c.child("orders", "POST /orders", kind="SERVER", offset_ms=0.5, duration_ms=0)
    d = jitter(rng, 6)
    inv = server.child("orders", "GET /items/{id}", kind="CLIENT", offset_ms=1, duration_ms=d + 1)
    inv.child("inventory", "GET /items/{id}", kind="SERVER", offset_ms=0.5, duration_ms=d)
    end = d + 3
    if not (bad and rng.random() < share):
        w = jitter(rng, 4)
        server.child("orders", step, kind="CLIENT", offset_ms=end, duration_ms=w,
                     attributes={"db.system": "postgresql"})
        end += w + 1
    server.end_ns = server.start_ns + int(end * 1e6)
    c.end_ns = server.end_ns + int(0.5e6)
    root.end_ns = c.end_ns + int(1e6)


def test_a_write_skipped_after_a_callees_answer_points_at_that_callee(tmp_path):
    """The work skipped is the caller's own (a database write), not a call into another service:
    steps per request count it, and per entry operation, so orders' other, shorter operation
    does not blur the change."""
    ip = load(tmp_path, requests(order_write_skipped))
    r = to_json(ip.investigate())
    assert top(r)[0] == "inventory", top(r)
    shift = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "path_shift"]
    assert shift and shift[0]["caller"] == "orders" and "POST /orders" in shift[0]["summary"]
    assert abs(r["windows"]["incident"]["since_ns"] - ONSET) < 2 * MIN


def test_with_a_handful_of_requests_before_calls_that_stop_are_still_the_likeliest_guess(tmp_path):
    """The same skipped write, given its onset after a minute of data: orders took a handful of
    orders before it, too few for the change to be clear. Nothing else changed at all; the ranking
    is said to be a guess, and requests that plainly stop calling on are the likeliest one."""
    onset = T0 + 60 * 10**9

    def build(tb, t, bad, rng):
        order_write_skipped(tb, t, t >= onset, rng, share=0.6)
    ip = load(tmp_path, requests(build, minutes=6, every_s=8.0))
    r = to_json(ip.investigate(symptom="web", at_ns=onset))
    assert r["evidence_strength"]["rankable"] is False and "guess" in r["evidence_strength"]["note"]
    assert top(r)[0] == "inventory", [(c["service"], c["summary"]) for c in r["root_causes"]]
    shift = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "path_shift"]
    assert shift and shift[0]["caller"] == "orders"


def two_pages_two_faults(tb, t, bad, rng):
    """frontend serves GET / (calls recommendation, which reads catalog's list) and POST /cart
    (calls cart, which reads one product from catalog). After the onset frontend's own GET / work
    gets much slower, and catalog's one-product read gets slower: POST /cart's requests wait for it."""
    if rng.random() < 0.5:
        root = tb.span("frontend", "GET /", duration_ms=0)
        rc = root.child("frontend", "call recommendation", kind="CLIENT", offset_ms=1, duration_ms=0)
        rs = rc.child("recommendation", "GET /recommendations", kind="SERVER", offset_ms=0.5, duration_ms=0)
        cc = rs.child("recommendation", "call catalog", kind="CLIENT", offset_ms=1, duration_ms=0)
        cs = cc.child("catalog", "GET /products", kind="SERVER", offset_ms=0.5, duration_ms=jitter(rng, 5))
        own = jitter(rng, 800 if bad else 10)
    else:
        root = tb.span("frontend", "POST /cart", duration_ms=0)
        rc = root.child("frontend", "call cart", kind="CLIENT", offset_ms=1, duration_ms=0)
        rs = rc.child("cart", "POST /cart", kind="SERVER", offset_ms=0.5, duration_ms=0)
        cc = rs.child("cart", "call catalog", kind="CLIENT", offset_ms=1, duration_ms=0)
        cs = cc.child("catalog", "GET /products/{id}", kind="SERVER", offset_ms=0.5,
                      duration_ms=jitter(rng, 60 if bad else 5))
        own = jitter(rng, 3)
    cc.end_ns = cs.end_ns + int(0.5e6)
    rs.end_ns = cc.end_ns + int(1e6)
    rc.end_ns = rs.end_ns + int(0.5e6)
    root.end_ns = rc.end_ns + int(own * 1e6)


def test_the_chain_ends_at_the_symptom_operation_its_requests_came_in_by(tmp_path):
    """Both of frontend's operations went wrong, GET / the most; catalog's chain is the path of
    POST /cart's requests, and its last hop names POST /cart, not the symptom's strongest operation."""
    ip = load(tmp_path, requests(two_pages_two_faults))
    r = to_json(ip.investigate(symptom="frontend"))
    catalog = next(c for c in r["root_causes"] if c["service"] == "catalog")
    assert [h["service"] for h in catalog["chain"]] == ["catalog", "cart", "frontend"]
    assert catalog["chain"][-1]["operation"] == "POST /cart", catalog["chain"]
    ops = [g["operation"] for g in r["symptom"]["entry_points"]]
    assert ops[0] == "GET /" and "POST /cart" in ops, ops


def failures_move_between_callees(tb, t, bad, rng):
    """frontend calls stock and then prices; one request in ten fails, in stock before the onset and
    in prices after it: the symptom fails no more often than before."""
    root = tb.span("frontend", "GET /", duration_ms=0)
    fails = rng.random() < 0.1
    end = 1.0
    for callee in ("stock", "prices"):
        broken = fails and callee == ("prices" if bad else "stock")
        d = jitter(rng, 5)
        c = root.child("frontend", f"call {callee}", kind="CLIENT", offset_ms=end, duration_ms=d + 1, error=broken)
        c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=0.5, duration_ms=d, error=broken)
        end += d + 2
    root.error = fails
    root.end_ns = root.start_ns + int((end + jitter(rng, 2)) * 1e6)


def test_failures_that_moved_without_rising_explain_nothing(tmp_path):
    """Shares are of the symptom's rise: where failures only changed origin, no node explains more
    than there is (an unbounded share once ranked such a node at a score of a million)."""
    ip = load(tmp_path, requests(failures_move_between_callees))
    r = to_json(ip.investigate(symptom="frontend", at_ns=ONSET))
    assert all(c["score"] <= 1.5 and c["explains"]["errors"] <= 1.0 for c in r["root_causes"]), \
        [(c["service"], c["score"]) for c in r["root_causes"]]


def orders_queue(tb, t, bad, rng):
    """checkout publishes an order; email consumes it in a trace of its own (a link). After the onset
    email falls behind: each message waits longer than the last. Nothing else changes."""
    root = tb.span("checkout", "POST /order", duration_ms=jitter(rng, 20))
    prod = root.child("checkout", "send orders", kind="PRODUCER", offset_ms=5, duration_ms=1,
                      attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"})
    behind_s = (t - ONSET) / 1e9 * 0.5 if bad else 0.0
    consumer = tb.__class__(t + int((0.003 + behind_s) * 1e9), seed=rng.getrandbits(32))
    consumer.span("email", "process orders", kind="CONSUMER", duration_ms=jitter(rng, 3), links=[prod],
                  attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"})
    return consumer


def test_consumer_lag_with_no_entry_point_moving_is_found_blind(tmp_path):
    import random

    from interplay.testing import TraceBuilder
    rng = random.Random(3)
    traces, t = [], T0
    while t < T0 + 40 * MIN:
        tb = TraceBuilder(t, seed=rng.getrandbits(32))
        traces += [tb, orders_queue(tb, t, t >= ONSET, rng)]
        t += int(3e9)
    ip = load(tmp_path, traces)
    r = to_json(ip.investigate())
    assert top(r)[0] == "email", top(r)
    lag = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "queue_lag"]
    assert lag and lag[0]["producer"] == "checkout" and lag[0]["lag_seconds"] > 10
    assert r["root_causes"][0]["explains"]["queue_lag"] > 0.5
    assert abs(r["windows"]["incident"]["since_ns"] - ONSET) < 3 * MIN


def queued_orders(wait_s, seed, minutes=40):
    """Traces of checkout publishing an order every 3 s and email consuming it in a trace of its own
    (a link), `wait_s(t, rng)` seconds after it was sent."""
    import random

    from interplay.testing import TraceBuilder
    rng = random.Random(seed)
    traces, t = [], T0
    while t < T0 + minutes * MIN:
        tb = TraceBuilder(t, seed=rng.getrandbits(32))
        root = tb.span("checkout", "POST /order", duration_ms=jitter(rng, 20))
        prod = root.child("checkout", "send orders", kind="PRODUCER", offset_ms=5, duration_ms=1,
                          attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"})
        consumer = TraceBuilder(t + int(wait_s(t, rng) * 1e9), seed=rng.getrandbits(32))
        consumer.span("email", "process orders", kind="CONSUMER", duration_ms=jitter(rng, 3), links=[prod],
                      attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"})
        traces += [tb, consumer]
        t += int(3e9)
    return traces


def test_a_queue_wait_a_millisecond_longer_is_no_consumer_falling_behind(tmp_path):
    """After the onset email takes each order 1.5 ms later than before (its poll loop, a busier
    broker): surely longer, and nothing a user or a queue would ever notice."""
    traces = queued_orders(lambda t, rng: 0.006 + (0.0035 if t >= ONSET else 0.002) + rng.uniform(-0.0002, 0.0002), 3)
    ip = load(tmp_path, traces)
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=ONSET))):
        assert not [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "queue_lag"], top(r)
        assert not [o for o in r["evidence_strength"]["other_symptoms"] if o["kind"] == "lag"]


def pooled_checkout(tb, t, bad, rng, queued_ms=300):
    """checkout waits for a worker before any work; after the onset payment gets slow and holds
    checkout's workers, so the wait grows on every checkout request, even those not paying."""
    root = tb.span("checkout", "POST /checkout", duration_ms=0)
    wait = jitter(rng, queued_ms) if bad else jitter(rng, 1)
    end = wait + 1
    c = root.child("checkout", "call cart", kind="CLIENT", offset_ms=end, duration_ms=4)
    c.child("cart", "GET /cart", kind="SERVER", offset_ms=0.5, duration_ms=3)
    end += 5
    if rng.random() < 0.5:
        d = jitter(rng, 900 if bad else 30)
        c = root.child("checkout", "call payment", kind="CLIENT", offset_ms=end, duration_ms=d + 1)
        c.child("payment", "POST /charge", kind="SERVER", offset_ms=0.5, duration_ms=d)
        end += d + 2
    root.end_ns = root.start_ns + int(end * 1e6)


@pytest.mark.parametrize("queued_ms", [300, 60_000])
def test_caller_whose_pool_a_slow_callee_fills_is_its_victim(tmp_path, queued_ms):
    """Also when the queue for a worker grows to a minute: payment's extra second is then a sliver
    of the symptom's extra time, but all of what happened below checkout."""
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: pooled_checkout(tb, t, bad, rng, queued_ms)))
    r = to_json(ip.investigate())
    assert top(r)[0] == "payment", top(r)
    assert any(m["from"] == "checkout" and m["to"] == "payment" for m in r["load_moves"])


def cart_throws(tb, t, bad, rng):
    """frontend → cart; after the onset cart throws in a third of requests: an exception event on its
    span, no status anywhere. frontend has logged a caught exception now and then all along."""
    root = tb.span("frontend", "GET /cart", duration_ms=jitter(rng, 12),
                   exception="CacheError" if rng.random() < 0.05 else None, caught=True)
    c = root.child("frontend", "call cart", kind="CLIENT", offset_ms=1, duration_ms=6)
    thrown = "NullPointerException" if bad and rng.random() < 0.33 else None
    c.child("cart", "GET /cart", kind="SERVER", offset_ms=0.5, duration_ms=5, exception=thrown, caught=True)


def test_exceptions_without_span_status_point_at_where_they_begin(tmp_path):
    ip = load(tmp_path, requests(cart_throws))
    assert not ip.store.query("SELECT 1 AS x FROM spans WHERE status_code = 'ERROR' LIMIT 1")
    r = to_json(ip.investigate(at_ns=ONSET))
    assert top(r)[0] == "cart", top(r)
    surge = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "exception_surge"]
    assert surge and surge[0]["after"] > surge[0]["before"]
    # frontend's caught exceptions, there all day, are background
    assert not any(e["type"] == "exception_surge" for c in r["root_causes"] if c["service"] == "frontend"
                   for e in c["evidence"])


def test_blind_the_onset_is_dated_where_exceptions_without_status_begin(tmp_path):
    """No status anywhere, no entry point fails, and frontend gets a little slower five minutes
    later: the onset is where cart's exceptions begin, not the later wobble."""
    def build(tb, t, bad, rng):
        cart_throws(tb, t, bad, rng)
        if t >= ONSET + 5 * MIN:
            tb.spans[0].end_ns += int(jitter(rng, 3) * 1e6)
    ip = load(tmp_path, requests(build))
    r = to_json(ip.investigate())
    assert top(r)[0] == "cart", top(r)
    assert "exception events" in r["onset_source"] and "cart" in r["onset_source"]
    onset = r["windows"]["incident"]["since_ns"]
    assert abs(onset - ONSET) <= MIN, format_time(onset)


def cart_throws_among_its_queries(tb, t, bad, rng):
    """frontend → cart, which runs a dozen queries per request; after the onset one request in ten
    throws (an exception event on cart's SERVER span, no status anywhere)."""
    root = tb.span("frontend", "GET /cart", duration_ms=jitter(rng, 30))
    c = root.child("frontend", "call cart", kind="CLIENT", offset_ms=1, duration_ms=25)
    thrown = "NullPointerException" if bad and rng.random() < 0.1 else None
    server = c.child("cart", "GET /cart", kind="SERVER", offset_ms=0.5, duration_ms=24, exception=thrown, caught=True)
    for i in range(12):
        server.child("cart", "SELECT items", kind="CLIENT", offset_ms=1 + i * 1.5, duration_ms=1,
                     attributes={"db.system": "postgresql"})


def test_exceptions_are_counted_per_request_not_diluted_by_inner_spans(tmp_path):
    """One request in ten newly throws in cart: a tenth of its requests, though under a hundredth of
    its spans (each request runs a dozen queries). It is a surge of failing requests."""
    ip = load(tmp_path, requests(cart_throws_among_its_queries))
    r = to_json(ip.investigate(at_ns=ONSET))
    surge = [e for c in r["root_causes"] if c["service"] == "cart" for e in c["evidence"]
             if e["type"] == "exception_surge"]
    assert surge and "requests" in surge[0]["summary"], [(c["service"], c["summary"]) for c in r["root_causes"]]
    assert top(r)[0] == "cart", top(r)


def test_time_outside_the_data_and_a_symptom_with_no_requests_are_errors(tmp_path):
    ip = load(tmp_path, requests(product_page_cut_short, minutes=10))
    with pytest.raises(InvalidInput, match="outside the data"):
        to_json(ip.investigate(at_ns=T0 + 60 * MIN))
    with pytest.raises(NotFound, match="no requests"):
        to_json(ip.investigate(symptom="nosuchservice", at_ns=T0 + 5 * MIN))
    assert to_json(ip.investigate(at_ns=T0 + 5 * MIN))["onset"] == format_time(T0 + 5 * MIN)


def test_no_change_is_said_to_be_too_thin_to_rank(tmp_path):
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: product_page_cut_short(tb, t, False, rng)))
    strength = to_json(ip.investigate())["evidence_strength"]
    assert strength["rankable"] is False and "too thin to rank" in strength["note"]
    short = to_json(ip.investigate(at_ns=T0 + 30 * 10**9))["evidence_strength"]
    assert short["baseline_seconds"] < 60 and "only" in short["note"]
    cut = to_json(load(tmp_path, requests(product_page_cut_short), name="cut").investigate())["evidence_strength"]
    assert cut["rankable"] is True and cut["other_symptoms"][0]["kind"] == "path"


def test_a_fault_running_since_the_data_begins_is_found_by_comparing_peers(tmp_path):
    """No baseline: every call to currency waits ~400 ms from the first trace on. With nothing
    before to compare, the edges into currency stand out from every other edge of the system."""
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: two_callers_of_currency(tb, t, True, rng), minutes=5))
    for r in (to_json(ip.investigate(at_ns=T0)), to_json(ip.investigate(at_ns=T0 - 2 * MIN)), to_json(ip.investigate())):
        assert top(r)[0] == "currency", top(r)
        assert "no baseline" in r["evidence_strength"]["note"] or "peers" in r["onset_source"]
        gaps = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "network_gap"]
        assert {e["caller"] for e in gaps} == {"frontend", "checkout"}
    with pytest.raises(InvalidInput, match="outside the data"):
        to_json(ip.investigate(at_ns=T0 - 60 * MIN))  # an hour off for five minutes of data: a mistake


def test_with_no_before_packet_loss_stands_out_by_the_slow_tail_no_other_edge_has(tmp_path):
    """Packet loss on currency's network from the first trace on: most exchanges pass untouched, so
    the median gap is everyone's; about one in six waits for a retransmit, which no other edge does."""
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: callers_of_currency(_retransmit)(tb, t, True, rng),
                                 minutes=5))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=T0))):
        assert top(r)[0] == "currency", [(c["service"], c["summary"]) for c in r["root_causes"]]
        gaps = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "network_gap"]
        assert {e["caller"] for e in gaps} == {"frontend", "checkout"}
        assert all(e.get("peer") and "exchanges over 180 ms" in e["summary"] for e in gaps), [(e.get("peer"), e["summary"]) for e in gaps]
        assert [o for o in r["evidence_strength"]["other_symptoms"] if o["suspect"] == "currency"]


def test_with_no_before_a_few_slow_exchanges_on_one_edge_are_no_network_fault(tmp_path):
    """One exchange in twenty with currency waits a quarter second, all along (a paused peer, a
    cold connection): a healthy edge's slow tail, not packet loss, though no other edge has one."""
    def now_and_then(bad, rng):
        return 250 * rng.uniform(1.0, 1.2) if rng.random() < 1 / 20 else jitter(rng, 0.6)
    ip = load(tmp_path, requests(callers_of_currency(now_and_then), minutes=5))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=T0))):
        assert not [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "network_gap"]
        assert not [o for o in r["evidence_strength"]["other_symptoms"] if o["suspect"] == "currency"]


def test_a_given_onset_is_not_moved_to_where_no_before_is_left(tmp_path):
    """A minute of data; calls to currency wait ~400 ms from 12 s in; the onset given is 45 s in.
    The clearer shift at 12 s lies close before it, where a lagging report would put it, but
    moving there leaves 10 s of before: no before at all. The fault is read as running since the
    data began (compared with peers) instead of on a 10 s before."""
    def build(tb, t, bad, rng):
        two_callers_of_currency(tb, t, t >= T0 + 12 * 10**9, rng)
    ip = load(tmp_path, requests(build, minutes=1, every_s=0.5))
    r = to_json(ip.investigate(at_ns=T0 + 45 * 10**9))
    assert r["onset_source"] != "refined", (r["onset"], r["evidence_strength"])
    assert r["evidence_strength"]["baseline_seconds"] >= 15 or "peers" in r["onset_source"]
    assert top(r)[0] == "currency", top(r)


def test_blind_a_fault_standing_out_from_the_start_outweighs_a_weaker_change_later(tmp_path):
    """Every call to currency waits ~400 ms from the first trace on; from minute 2 some requests
    also fail in frontend itself, a weaker change. Blind, both readings are tried (a change at a
    detected onset, or a fault running since the data begins) and the stronger evidence is kept,
    with a note saying which reading lost and by how much."""
    def build(tb, t, bad, rng):
        two_callers_of_currency(tb, t, True, rng)
        if t >= T0 + 2 * MIN and rng.random() < 0.3:
            tb.spans[0].error = True
    ip = load(tmp_path, requests(build, minutes=6))
    r = to_json(ip.investigate())
    assert top(r)[0] == "currency", top(r)
    assert "peers" in r["onset_source"] and "was weaker than what stands out" in r["evidence_strength"]["note"]
    later = to_json(ip.investigate(at_ns=T0 + 2 * MIN))  # told when: that reading is taken as given
    assert "given" in later["onset_source"] and "frontend" in top(later)[:2]


def test_healthy_data_with_no_baseline_is_not_blamed_on_anyone_clearly(tmp_path):
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: two_callers_of_currency(tb, t, False, rng), minutes=5))
    r = to_json(ip.investigate())
    assert r["evidence_strength"]["rankable"] is False
    assert not [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "network_gap"]


def cart_failing_from_the_start(tb, t, bad, rng):
    """frontend calls catalog and cart; a third of cart's answers fail from the first trace on."""
    root = tb.span("frontend", "GET /", duration_ms=0)
    end = 1.0
    for callee, ms in (("catalog", 5), ("cart", 4)):
        failed = callee == "cart" and rng.random() < 0.33
        d = jitter(rng, ms)
        c = root.child("frontend", f"call {callee}", kind="CLIENT", offset_ms=end, duration_ms=d + 0.6,
                       error=failed)
        c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=0.3, duration_ms=d, error=failed)
        end += d + 1
    root.end_ns = root.start_ns + int((end + jitter(rng, 1)) * 1e6)
    root.error = any(s.error for s in tb.spans)


def test_with_no_before_no_caller_is_said_to_send_a_surge_of_calls(tmp_path):
    """No baseline at all: every call is "new", which is no evidence of a rise. The failures are
    cart's, as its peers show; the entry service must not take the blame for "a surge of calls"."""
    ip = load(tmp_path, requests(cart_failing_from_the_start, minutes=5))
    r = to_json(ip.investigate(at_ns=T0))
    assert top(r)[0] == "cart", [(c["service"], c["summary"]) for c in r["root_causes"]]
    assert not r["load_moves"] and not [c for c in r["root_causes"] if "surge of calls" in c["summary"]]


def checkout_failing_beside_a_pausing_database(tb, t, bad, rng):
    """Most requests are page views: frontend → catalog → postgres, whose query pauses ~120 ms one
    time in ten, all along. One in seven is a checkout: frontend → checkout → payment, and from the
    first trace on a third of payment's charges fail (a bad deploy running before the data begins)."""
    if rng.random() < 6 / 7:
        root = tb.span("frontend", "GET /", duration_ms=0)
        c = root.child("frontend", "call catalog", kind="CLIENT", offset_ms=1, duration_ms=0)
        server = c.child("catalog", "GET /products", kind="SERVER", offset_ms=0.3, duration_ms=0)
        q = jitter(rng, 120) if rng.random() < 0.1 else jitter(rng, 4)
        db = server.child("catalog", "SELECT products", kind="CLIENT", offset_ms=0.5, duration_ms=q,
                          attributes={"db.system": "postgresql"})
        server.end_ns = db.end_ns + int(jitter(rng, 1) * 1e6)
    else:
        root = tb.span("frontend", "POST /checkout", duration_ms=0)
        c = root.child("frontend", "call checkout", kind="CLIENT", offset_ms=1, duration_ms=0)
        server = c.child("checkout", "POST /checkout", kind="SERVER", offset_ms=0.3, duration_ms=0)
        failed = rng.random() < 0.33
        pc = server.child("checkout", "call payment", kind="CLIENT", offset_ms=1, duration_ms=jitter(rng, 20) + 0.6,
                          error=failed)
        pc.child("payment", "POST /charge", kind="SERVER", offset_ms=0.3, duration_ms=(pc.end_ns - pc.start_ns) / 1e6 - 0.6,
                 error=failed)
        server.error = failed
        server.end_ns = pc.end_ns + int(jitter(rng, 2) * 1e6)
    c.end_ns = server.end_ns + int(0.4e6)
    c.error = server.error
    root.end_ns = c.end_ns + int(jitter(rng, 1) * 1e6)
    root.error = c.error


def test_with_no_before_the_entry_point_failing_far_more_than_the_others_is_where_the_fault_shows(tmp_path):
    """With nothing before, page views' slowest tenth (the database's pauses) outnumber the failing
    checkouts; but checkouts fail far more often than any other entry point, and that is where the
    fault shows, not in the background every system has."""
    ip = load(tmp_path, requests(checkout_failing_beside_a_pausing_database, minutes=5, every_s=0.5))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=T0)),
              to_json(ip.investigate(symptom="frontend", at_ns=T0))):
        assert top(r)[0] == "payment", [(c["service"], c["summary"]) for c in r["root_causes"]]
        assert "no baseline" in r["evidence_strength"]["note"]
        assert "only frontend POST /checkout: it fails far more often" in r["evidence_strength"]["note"]


def frontend_slow_around_its_calls(tb, t, bad, rng):
    """A code fault in frontend from the first trace on: one request in five spends ~60 ms in
    frontend after currency has answered, inside its CLIENT span (handling the answer), and
    ~20 ms more in its own handler. currency's SERVER spans are as fast as ever."""
    slow = rng.random() < 0.2
    root = tb.span("frontend", "GET /", duration_ms=0)
    end = 1.0
    for callee, ms in (("catalog", 5), ("currency", 3)):
        d = jitter(rng, ms)
        extra = jitter(rng, 60) if slow and callee == "currency" else 0.0
        c = root.child("frontend", f"call {callee}", kind="CLIENT", offset_ms=end, duration_ms=d + 0.6 + extra)
        c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=0.3, duration_ms=d)
        end += d + extra + 1
    root.end_ns = root.start_ns + int((end + jitter(rng, 1) + (jitter(rng, 20) if slow else 0)) * 1e6)


def test_blind_with_no_change_anywhere_the_peers_order_is_the_guess(tmp_path):
    """cart fails a third of its calls through all 20 minutes: nothing changes, nothing stands out
    as an edge or a resource. The failing requests, compared with their peers, still say where
    they fail; that order is given, and said to be a guess."""
    ip = load(tmp_path, requests(cart_failing_from_the_start, minutes=20))
    r = to_json(ip.investigate())
    assert top(r)[0] == "cart", top(r)
    assert "peers" in r["onset_source"]
    assert r["evidence_strength"]["rankable"] is False and "guess" in r["evidence_strength"]["note"]


def test_a_gap_no_peer_places_is_split_between_caller_and_callee(tmp_path):
    """With no baseline and no edge standing out, nothing says whether a longer gap on
    frontend -> currency is currency's network or frontend's own handling: it is split, and the
    frontend's own slower handler decides (the callee used to take it all by default)."""
    ip = load(tmp_path, requests(frontend_slow_around_its_calls, minutes=5))
    r = to_json(ip.investigate(at_ns=T0))
    assert top(r)[0] == "frontend", [(c["service"], c["summary"]) for c in r["root_causes"]]


def calls_to_a_distant_model(tb, t, bad, rng):
    """frontend calls catalog next door and a model provider far away, the same all along: the
    model's calls wait ~10 ms on the way (its distance), every other call under a millisecond."""
    root = tb.span("frontend", "GET /", duration_ms=0)
    end = 1.0
    for callee, ms, wait in (("catalog", 5, 0.6), ("model", 1500, 10)):
        d, w = jitter(rng, ms), jitter(rng, wait)
        c = root.child("frontend", f"call {callee}", kind="CLIENT", offset_ms=end, duration_ms=d + w)
        c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=w / 2, duration_ms=d)
        end += d + w + 1
    root.end_ns = root.start_ns + int((end + jitter(rng, 2)) * 1e6)


def test_a_small_steady_wait_on_a_slow_call_is_not_a_fault_without_a_baseline(tmp_path):
    """With nothing before to compare, a gap that stands out from its peers but is a sliver of a
    call that takes seconds is the callee's distance, not a network fault."""
    ip = load(tmp_path, requests(calls_to_a_distant_model, minutes=10))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=T0))):
        assert not [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "network_gap"]
        assert not [o for o in r["evidence_strength"]["other_symptoms"] if o["suspect"] == "model"]


def _resource_csv(path, services, burning, *, column="cpu", minutes=40):
    """RCAEval-layout metrics, one row a minute: each service's `column` steady, `burning`'s ×4 from
    the onset; a node-wide series that jumps for everyone, which is no one's fault."""
    lines = ["time," + ",".join(f"{s}_{column},{s}_node-cpu" for s in services)]
    for m in range(-20, minutes):
        t = T0 + m * MIN
        row = []
        for i, s in enumerate(services):
            level = 10 + i + (m % 3) * 0.3
            row += [level * (4 if s == burning and t >= ONSET else 1), 40 * (3 if t >= ONSET else 1)]
        lines.append(f"{t // 10**9}," + ",".join(f"{v:.3f}" for v in row))
    path.write_text("\n".join(lines) + "\n")
    return path


def _frontend_calls(tb, rng, calls):
    """frontend's GET / calling each (callee, ms, times) in turn."""
    root = tb.span("frontend", "GET /", duration_ms=0)
    end = 1.0
    for callee, ms, times in calls:
        for _ in range(times):
            d = jitter(rng, ms)
            c = root.child("frontend", f"call {callee}", kind="CLIENT", offset_ms=end, duration_ms=d + 1)
            c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=0.5, duration_ms=d)
            end += d + 2
    root.end_ns = root.start_ns + int((end + jitter(rng, 2)) * 1e6)


def slightly_slower_cart(tb, t, bad, rng):
    """frontend calls catalog and cart; after the onset cart is a little slower (its CPU is taken),
    too little for a latency symptom of its own."""
    _frontend_calls(tb, rng, (("catalog", 8, 1), ("cart", 5 * (1.15 if bad else 1), 1)))


@pytest.mark.parametrize("column", ["cpu", "diskio", "mem", "socket"])
def test_a_service_whose_own_cpu_rose_and_stayed_up_is_a_suspect(tmp_path, column):
    from interplay.metrics_csv import ingest_rcaeval_csv
    ip = load(tmp_path, requests(slightly_slower_cart))
    ingest_rcaeval_csv(ip, _resource_csv(tmp_path / "m.csv", ["frontend", "catalog", "cart"], "cart", column=column))
    r = to_json(ip.investigate(at_ns=ONSET))
    assert top(r)[0] == "cart", top(r)
    shift = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "resource_shift"]
    assert shift and shift[0]["metric"] == column and shift[0]["after"] > 3 * shift[0]["before"]
    assert r["root_causes"][0]["explains"]["resources"] > 0
    # the node-wide series tripled for everyone: no service is a suspect for it
    assert all(e["metric"] != "node-cpu" for c in r["root_causes"] for e in c["evidence"]
               if e["type"] == "resource_shift")


def test_cpu_that_rose_by_a_fraction_is_not_a_resource_fault(tmp_path):
    from interplay.metrics_csv import ingest_rcaeval_csv
    ip = load(tmp_path, requests(slightly_slower_cart))
    csv = _resource_csv(tmp_path / "m.csv", ["frontend", "catalog", "cart"], None)
    text = csv.read_text().splitlines()
    # cart's CPU up by a third after the onset: a busier hour, not a fault
    head, rows = text[0], [r.split(",") for r in text[1:]]
    col = head.split(",").index("cart_cpu")
    for r in rows:
        if int(r[0]) * 10**9 >= ONSET:
            r[col] = f"{float(r[col]) * 1.33:.3f}"
    csv.write_text(head + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    ingest_rcaeval_csv(ip, csv)
    r = to_json(ip.investigate(at_ns=ONSET))
    assert not [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "resource_shift"]


def frontend_floods_cart(tb, t, bad, rng):
    """After the onset frontend calls cart five times per request (a retry loop of its own)."""
    _frontend_calls(tb, rng, (("catalog", 8, 1), ("cart", 5, 5 if bad else 1)))


def frontend_retries_a_burning_cart(tb, t, bad, rng, marked=True):
    """frontend calls catalog and cart; after the onset cart (its CPU taken) is slow, frontend gives
    up on it after 200 ms and tries again once (http.request.resend_count=1 when `marked`; many
    exports drop it): more calls into cart, all of them retries."""
    root = tb.span("frontend", "GET /", duration_ms=0)
    end = 1.0
    d = jitter(rng, 8)
    c = root.child("frontend", "call catalog", kind="CLIENT", offset_ms=end, duration_ms=d + 1)
    c.child("catalog", "serve catalog", kind="SERVER", offset_ms=0.5, duration_ms=d)
    end += d + 2
    for attempt in range(2 if bad else 1):
        d = jitter(rng, 400 if bad else 5)
        took = min(d + 1, 200)
        attrs = {"http.request.resend_count": attempt} if attempt and marked else {}
        c = root.child("frontend", "call cart", kind="CLIENT", offset_ms=end, duration_ms=took, error=bad,
                       attributes=attrs)
        c.child("cart", "serve cart", kind="SERVER", offset_ms=0.5, duration_ms=d)
        end += took + 1
    root.end_ns = root.start_ns + int((end + jitter(rng, 2)) * 1e6)
    root.error = bad


def frontend_retries_a_burning_cart_unmarked(tb, t, bad, rng):
    """The same retries, exported without `http.request.resend_count`: a repeat of a call that had
    just failed, from the same parent, is a retry all the same."""
    frontend_retries_a_burning_cart(tb, t, bad, rng, marked=False)


@pytest.mark.parametrize("build, suspect", [(frontend_floods_cart, "frontend"),
                                            (frontend_retries_a_burning_cart, "cart"),
                                            (frontend_retries_a_burning_cart_unmarked, "cart")])
def test_cpu_that_rose_under_a_surge_of_calls_points_at_who_sent_them(tmp_path, build, suspect):
    """cart's CPU ×4: under frontend's own flood of first tries it is frontend's load; under frontend
    retrying calls that timed out it is cart's (retries follow a failure rather than cause it)."""
    from interplay.metrics_csv import ingest_rcaeval_csv
    ip = load(tmp_path, requests(build))
    ingest_rcaeval_csv(ip, _resource_csv(tmp_path / "m.csv", ["frontend", "catalog", "cart"], "cart"))
    r = to_json(ip.investigate(at_ns=ONSET))
    resources = [o for o in r["evidence_strength"]["other_symptoms"] if o["kind"] == "resources"]
    assert resources and resources[0]["suspect"] == suspect, resources
    assert top(r)[0] == suspect, top(r)


def agent_refused_by_llm(tb, t, bad, rng):
    """agent calls an LLM provider (a resource: no spans of its own); after the onset a third of the
    calls get a 429 and the agent answers 503, both recorded only as HTTP codes, and it records a
    caught exception for each. No span status anywhere."""
    refused = bad and rng.random() < 0.33
    root = tb.span("agent", "POST /support", duration_ms=0,
                   attributes={"http.response.status_code": 503 if refused else 200})
    root.child("agent", "chat gpt-4o", kind="CLIENT", offset_ms=1, duration_ms=3 if refused else jitter(rng, 40),
               attributes={"server.address": "llm.example", "gen_ai.system": "openai",
                           "http.response.status_code": 429 if refused else 200})
    root.end_ns = root.start_ns + int(60e6)
    if refused:
        root.child("agent", "handle refusal", offset_ms=50, duration_ms=1, exception="RateLimitError", caught=True)


def test_exceptions_of_a_caller_whose_calls_are_refused_point_at_what_refused_them(tmp_path):
    ip = load(tmp_path, requests(agent_refused_by_llm))
    r = to_json(ip.investigate(at_ns=ONSET))
    assert top(r)[0] == "llm.example", [(c["service"], c["explains"]) for c in r["root_causes"]]
    surge = [o for o in r["evidence_strength"]["other_symptoms"] if o["kind"] == "exceptions"]
    assert surge and surge[0]["suspect"] == "agent" and surge[0]["strength"] < 1.5  # reported, not begun


def cart_throws_from_the_start_beside_a_noisy_catalog(tb, t, bad, rng, share=0.5, begins_s=10):
    """frontend calls catalog on every request and cart on some; catalog logs a caught exception
    in almost half of its requests all day long; from `begins_s` into the data cart throws in half of
    its requests, and frontend records the failure it got back. No span status anywhere."""
    thrown = t >= T0 + begins_s * 10**9 and rng.random() < share
    root = tb.span("frontend", "GET /", duration_ms=jitter(rng, 20),
                   exception="UpstreamError" if thrown else None, caught=True)
    c = root.child("frontend", "call catalog", kind="CLIENT", offset_ms=1, duration_ms=6)
    c.child("catalog", "GET /products", kind="SERVER", offset_ms=0.5, duration_ms=5,
            exception="CacheTimeout" if rng.random() < 0.45 else None, caught=True)
    if thrown or rng.random() < 0.3:
        c = root.child("frontend", "call cart", kind="CLIENT", offset_ms=8, duration_ms=6)
        c.child("cart", "GET /cart", kind="SERVER", offset_ms=0.5, duration_ms=5,
                exception="NullPointerException" if thrown else None, caught=True)


def test_with_no_before_exceptions_point_at_where_they_begin_not_at_a_service_noisy_all_day(tmp_path):
    """No span status and 10 s of data before the fault (too little to compare): the exceptions
    that begin in cart (frontend's only report them) stand out from the other services'; catalog's,
    as frequent, were there in those first seconds already: its background."""
    ip = load(tmp_path, requests(cart_throws_from_the_start_beside_a_noisy_catalog, minutes=5, every_s=0.5))
    for r in (to_json(ip.investigate(at_ns=T0 + 10 * 10**9)), to_json(ip.investigate())):
        assert top(r)[0] == "cart", [(c["service"], c["summary"]) for c in r["root_causes"]]
        marks = {c["service"]: e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "exception_surge"}
        assert "cart" in marks and r["evidence_strength"]["rankable"]
        assert "frontend" not in marks or marks["frontend"]["reported_by_callee"]  # it reports cart's failures
    guided = to_json(ip.investigate(at_ns=T0 + 10 * 10**9))
    assert not [c for c in guided["root_causes"] if c["service"] == "catalog" and c["explains"]["exceptions"] > 0]


def test_exceptions_from_the_first_second_that_fail_the_callers_are_the_fault_not_background(tmp_path):
    """cart throws from the data's first second on: its first seconds look like its later ones, as
    catalog's all-day noise does. But frontend's requests fail with cart's marks (whenever cart
    throws, and only then), while catalog's are caught where they happen: cart is the fault."""
    def build(tb, t, bad, rng):
        cart_throws_from_the_start_beside_a_noisy_catalog(tb, t, bad, rng, begins_s=0)
    ip = load(tmp_path, requests(build, minutes=5, every_s=0.5))
    r = to_json(ip.investigate())
    assert top(r)[0] == "cart", [(c["service"], c["summary"]) for c in r["root_causes"]]
    assert r["evidence_strength"]["rankable"]
    marks = {c["service"] for c in r["root_causes"] for e in c["evidence"] if e["type"] == "exception_surge"}
    assert "catalog" not in marks, marks


def test_blind_a_service_noisy_all_day_does_not_outweigh_a_change_later(tmp_path):
    """The same services with a long before: cart throws from the onset on, in a few requests. Compared with its
    peers from the data's start, catalog's marks stand out as much; they were there before the
    onset the other reading found, as often, so they are background and that reading stands."""
    def build(tb, t, bad, rng):
        cart_throws_from_the_start_beside_a_noisy_catalog(tb, t if bad else T0, bad, rng, share=0.06)
    ip = load(tmp_path, requests(build, minutes=40, every_s=1.0))
    r = to_json(ip.investigate())
    assert top(r)[0] == "cart", [(c["service"], c["summary"]) for c in r["root_causes"]]
    assert "peers" not in r["onset_source"] and abs(r["windows"]["incident"]["since_ns"] - ONSET) < 2 * MIN
    assert not [c for c in r["root_causes"] if c["service"] == "catalog" and c["explains"]["exceptions"] > 0]


def checkout_gives_up_on_payment(tb, t, bad, rng):
    """frontend → checkout → payment. After the onset payment takes 2 s; checkout stops waiting at
    500 ms and records a caught TimeoutError, while payment's span runs on. No status anywhere."""
    root = tb.span("frontend", "POST /checkout", duration_ms=0)
    co = root.child("frontend", "call checkout", kind="CLIENT", offset_ms=1, duration_ms=0)
    server = co.child("checkout", "PlaceOrder", kind="SERVER", offset_ms=0.3, duration_ms=0)
    c = server.child("checkout", "call cart", kind="CLIENT", offset_ms=1, duration_ms=5)
    c.child("cart", "GET /cart", kind="SERVER", offset_ms=0.4, duration_ms=4)
    work = jitter(rng, 2000) if bad else jitter(rng, 30)
    waited = min(work + 1, 500)
    pay = server.child("checkout", "call payment", kind="CLIENT", offset_ms=7, duration_ms=waited,
                       exception="TimeoutError" if work + 1 > 500 else None, caught=True)
    pay.child("payment", "POST /charge", kind="SERVER", offset_ms=0.5, duration_ms=work)
    server.end_ns = pay.end_ns + int(1e6)
    co.end_ns = server.end_ns + int(0.5e6)
    root.end_ns = co.end_ns + int(1e6)


@pytest.mark.parametrize("before_s", [30 * 60, 10])
def test_a_timeout_a_caller_logs_while_its_callee_works_on_points_at_the_callee(tmp_path, before_s):
    """checkout's TimeoutErrors begin with it (payment records none), but payment was still working
    when checkout gave up: they report payment's slowness. With a long before, and with 10 s (too
    little to compare in time: where failures begin is compared across services)."""
    onset = T0 + before_s * 10**9

    def build(tb, t, bad, rng):
        checkout_gives_up_on_payment(tb, t, t >= onset, rng)
    ip = load(tmp_path, requests(build, minutes=40 if before_s > 60 else 10, every_s=2.0))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(symptom="frontend", at_ns=onset))):
        assert top(r)[0] == "payment", [(c["service"], c["summary"]) for c in r["root_causes"]]
        checkout = next((c for c in r["root_causes"] if c["service"] == "checkout"), None)
        assert checkout is None or checkout["score"] < 0.5 * r["root_causes"][0]["score"]


def checkout_gives_up_on_payment_beside_a_pausing_catalog(tb, t, bad, rng):
    """Most requests are page views: frontend → catalog, whose answer pauses ~120 ms one time in
    ten, all along. One in five is a checkout, and from the first trace on payment takes 2 s, past
    checkout's 500 ms timeout (a caught TimeoutError, payment's span running on). No status."""
    if rng.random() < 0.2:
        checkout_gives_up_on_payment(tb, t, True, rng)
        return
    root = tb.span("frontend", "GET /", duration_ms=0)
    d = jitter(rng, 120) if rng.random() < 0.1 else jitter(rng, 5)
    c = root.child("frontend", "call catalog", kind="CLIENT", offset_ms=1, duration_ms=d + 0.6)
    c.child("catalog", "GET /products", kind="SERVER", offset_ms=0.3, duration_ms=d)
    root.end_ns = c.end_ns + int(1e6)


def test_with_no_before_timeouts_callers_log_while_the_callee_works_on_point_at_the_callee(tmp_path):
    """No before: every checkout is as slow as the next, so its slow tenth says nothing, while the
    page views' slow tenth is catalog's pauses, all day long. What stands out is that checkout
    stops waiting for payment and logs a timeout in every checkout, while payment works on: those
    marks begin at payment, far more often than marks begin anywhere else. They report payment's
    slowness, as a timeout in time does (whatever kept it busy: a pool full of calls waiting on
    another callee looks alike), so they count as a report: beside catalog's, not over it."""
    ip = load(tmp_path, requests(checkout_gives_up_on_payment_beside_a_pausing_catalog, minutes=5, every_s=1.0))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=T0))):
        assert "payment" in top(r)[:2], [(c["service"], c["summary"]) for c in r["root_causes"]]
        payment = next(c for c in r["root_causes"] if c["service"] == "payment")
        assert all(c["score"] < payment["score"] for c in r["root_causes"] if c["service"] in ("checkout", "frontend"))
        marks = [e for e in payment["evidence"] if e["type"] == "exception_surge"]
        assert marks and "timeouts its callers logged while it worked on" in marks[0]["summary"], marks
        assert [o["suspect"] for o in r["evidence_strength"]["other_symptoms"]] == ["payment"]


def orders_fanned_out(tb, t, bad, rng, stopped=lambda t: False, behind_s=lambda t: 0.0):
    """checkout sends each order as a message that email and shipping both consume, each in a child
    span that starts after the send ended (kinds guessed, as from bare exports: a CLIENT, no PRODUCER).
    When `stopped(t)`, shipping takes no message at all; else it takes it `behind_s(t)` late.
    Nothing else changes."""
    root = tb.span("checkout", "POST /order", duration_ms=jitter(rng, 20))
    send = root.child("checkout", "send orders", kind="CLIENT", offset_ms=5, duration_ms=1)
    send.child("email", "process orders", kind="SERVER", offset_ms=3, duration_ms=jitter(rng, 4))
    if not stopped(t):
        send.child("shipping", "process orders", kind="SERVER", offset_ms=3 + behind_s(t) * 1000,
                   duration_ms=jitter(rng, 6))


@pytest.mark.parametrize("from_start", [False, True])
def test_a_consumer_that_stops_taking_messages_is_found_by_what_it_left_waiting(tmp_path, from_start):
    """A stopped consumer leaves no consumer span and so no queue wait: the messages it did not take
    are the evidence, against before or, from the data's start, against the other consumer."""
    begins = T0 + 20 * 10**9 if from_start else ONSET
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: orders_fanned_out(tb, t, bad, rng, lambda t: t >= begins),
                                 minutes=10 if from_start else 40, every_s=5.0))
    r = to_json(ip.investigate())
    assert top(r)[0] == "shipping", [(c["service"], c["summary"]) for c in r["root_causes"]]
    lag = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "queue_lag"]
    assert lag and lag[0]["producer"] == "checkout" and lag[0]["messages_waiting"] >= 20
    assert lag[0]["lag_seconds"] > 60 and "not taken by shipping" in lag[0]["summary"]
    if not from_start:
        assert abs(r["windows"]["incident"]["since_ns"] - ONSET) < 2 * MIN


def test_two_calls_before_are_enough_for_a_gap_that_grew_on_every_call_after():
    from interplay.rca._gaps import EdgeGap, rises
    gap = EdgeGap("checkout", "shipping", "gap", before=[0.9e6, 1.1e6], after=[150e6 + i * 1e6 for i in range(30)])
    gap.p_value = rises(gap.after, gap.before)
    assert gap.comparable and gap.grew and gap.p_value < 0.005
    noise = EdgeGap("checkout", "shipping", "gap", before=[0.9e6, 1.1e6], after=[1e6 + i * 1e4 for i in range(30)])
    noise.p_value = rises(noise.after, noise.before)
    assert not noise.grew


def test_given_an_onset_with_too_little_before_to_show_a_change_peers_are_compared(tmp_path):
    """Half a minute of light traffic before the onset given holds two or three cart requests: no
    rise can be told from chance there. Where exceptions begin, across services, still points at
    cart, with catalog's marks, there before the onset given, as background. Blind, the onset found
    where nothing changed is noise: only the data's first seconds are a before then."""
    def build(tb, t, bad, rng):
        cart_throws_from_the_start_beside_a_noisy_catalog(tb, t, bad, rng, begins_s=30)
    ip = load(tmp_path, requests(build, minutes=6, every_s=4.0))
    guided = to_json(ip.investigate(symptom="frontend", at_ns=T0 + 30 * 10**9))
    assert top(guided)[0] == "cart", [(c["service"], c["summary"]) for c in guided["root_causes"]]
    assert guided["evidence_strength"]["rankable"] and "onset given" in guided["evidence_strength"]["note"]
    assert not [c for c in guided["root_causes"] if c["service"] == "catalog" and c["explains"]["exceptions"] > 0]
    blind = to_json(ip.investigate())
    assert top(blind)[0] == "cart", [(c["service"], c["summary"]) for c in blind["root_causes"]]


def cart_slower_beside_a_catalog_that_pauses(tb, t, bad, rng):
    """frontend calls catalog and cart on each request. catalog pauses for 5 s in one request in 70
    (a GC, a noisy host), all day long; the first pause falls just after the two minutes of data
    before the onset. From the onset cart takes 60 ms more on every call."""
    i = (t - T0) // int(2e9)
    root = tb.span("frontend", "GET /", duration_ms=0)
    took = jitter(rng, 5) + (5000 if i % 70 == 69 else 0)
    c = root.child("frontend", "call catalog", kind="CLIENT", offset_ms=1, duration_ms=took + 1)
    c.child("catalog", "GET /products", kind="SERVER", offset_ms=0.5, duration_ms=took)
    d = jitter(rng, 4) + (60 if bad else 0)
    k = root.child("frontend", "call cart", kind="CLIENT", offset_ms=took + 3, duration_ms=d + 1)
    k.child("cart", "GET /cart", kind="SERVER", offset_ms=0.5, duration_ms=d)
    root.end_ns = k.end_ns + int(1e6)


def test_a_rare_pause_a_short_baseline_missed_does_not_outweigh_a_slowdown_of_every_call(tmp_path):
    """catalog's mean time rises more than cart's (the short before caught none of its pauses), but
    only cart's calls are typically slower: a rank test tells the two apart."""
    onset = T0 + 120 * 10**9
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: cart_slower_beside_a_catalog_that_pauses(
        tb, t, t >= onset, rng), minutes=7))
    r = to_json(ip.investigate(symptom="frontend", at_ns=onset))
    assert top(r)[0] == "cart", [(c["service"], c["summary"]) for c in r["root_causes"]]


def test_calls_cut_short_are_found_at_a_handful_of_requests_a_minute(tmp_path):
    """Eight requests before the onset given and fifteen after: a share of requests ending right after
    catalog that rises from none to most is clear at that count too."""
    onset = T0 + 80 * 10**9
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: product_page_cut_short(tb, t, t >= onset, rng),
                                 minutes=4, every_s=10.0))
    r = to_json(ip.investigate(symptom="frontend", at_ns=onset))
    assert top(r)[0] == "catalog", [(c["service"], c["summary"]) for c in r["root_causes"]]
    assert any(e["type"] == "path_shift" for e in r["root_causes"][0]["evidence"])


def test_with_no_before_a_consumer_behind_the_other_consumers_of_the_same_messages_stands_out(tmp_path):
    """From the data's first seconds shipping takes each order later than the last; email, reading
    the same messages, takes each within milliseconds: its wait is the peer shipping's is compared with."""
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: orders_fanned_out(
        tb, t, bad, rng, behind_s=lambda t: max(t - T0 - 5e9, 0) / 1e9 * 0.5), minutes=10, every_s=5.0))
    r = to_json(ip.investigate(at_ns=T0 + 5 * 10**9))
    assert top(r)[0] == "shipping", [(c["service"], c["summary"]) for c in r["root_causes"]]
    lag = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "queue_lag"]
    assert lag and lag[0]["consumer"] == "shipping" and lag[0]["lag_seconds"] > 10


def calls_in_turn(root, calls, end_ms, rng):
    """frontend calls each (callee, own ms, ms between the spans) in turn from `end_ms` on; the
    root ends a millisecond after the last."""
    for callee, ms, wait in calls:
        d, w = jitter(rng, ms), jitter(rng, wait)
        c = root.child("frontend", f"call {callee}", kind="CLIENT", offset_ms=end_ms, duration_ms=d + w + 0.4)
        c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=w / 2 + 0.2, duration_ms=d)
        end_ms += d + w + 1
    root.end_ns = root.start_ns + int((end_ms + jitter(rng, 1)) * 1e6)


def cart_slow_from_the_start_beside_a_catalog_batch(tb, t, bad, rng):
    """One request in five waits ~300 ms on cart from the first trace on. From minute 3 a batch
    job on the node catalog and stock share makes both answer slower (5 -> 30 ms): a clear change
    inside, spread over two services, which the entry point, already slow in its tail because of
    cart, barely shows."""
    slow_cart = rng.random() < 0.2
    batch = t >= T0 + 3 * MIN
    calls_in_turn(tb.span("frontend", "GET /", duration_ms=0),
                  [("catalog", 30 if batch else 5, 0.2), ("stock", 30 if batch else 5, 0.2),
                   ("cart", 300 if slow_cart else 4, 0.2)], 1.0, rng)


def test_blind_a_change_inside_that_moved_no_entry_point_does_not_hide_a_fault_running_from_the_start(tmp_path):
    """Blind, the change found (catalog and stock slower from minute 3, a neighbour's ripple rather
    than one service's fault) moved no entry point and nothing else stands behind it, while
    frontend's requests lie far out of line with their peers all along: those are what users
    meet, and cart is why. (A change inside that one service holds is a fault there: see
    test_a_change_inside_that_one_service_holds_is_not_a_ripple_of_the_tail.)"""
    ip = load(tmp_path, requests(cart_slow_from_the_start_beside_a_catalog_batch, minutes=6))
    r = to_json(ip.investigate())
    assert top(r)[0] == "cart", [(c["service"], c["summary"]) for c in r["root_causes"]]
    assert "peers" in r["onset_source"] and "moved no entry point" in r["evidence_strength"]["note"]
    given = to_json(ip.investigate(at_ns=T0 + 3 * MIN))  # told that time, the same holds
    assert top(given)[0] == "cart", top(given)
    assert "at the onset given" in given["evidence_strength"]["note"]
    asked = to_json(ip.investigate(symptom="frontend", at_ns=T0 + 3 * MIN))  # an entry point named: its own reading
    assert "peers" not in asked["onset_source"], asked["onset_source"]


def test_with_no_trace_baseline_the_request_metrics_say_who_sends_a_surge(tmp_path):
    """An agent loops on a tool from before the traces begin (they start 2 s before the onset); the
    backend it swamps is the slowest part of every request, and only its request metrics, which
    reach back further than the traces, show it is called ten times as often as before."""
    out = tmp_path / "loop.jsonl"
    truth = simulate("agentic", "agent_tool_loop", 3, out, duration_s=900, rate_per_s=1.5, trace_lead_s=2)
    at = parse_time_ns(truth["injected_at"], where="truth")
    lines = out.read_text().splitlines()
    traces_only = tmp_path / "traces-only.jsonl"
    traces_only.write_text("\n".join(line for line in lines if '"resourceMetrics"' not in line) + "\n")
    seen = {}
    for name, path in (("all", out), ("traces only", traces_only)):
        ip = Interplay.open(":memory:")
        ip.ingest_file(path)
        seen[name] = to_json(ip.investigate(symptom=truth["symptom"], at_ns=at))
        ip.close()
    r = seen["all"]
    assert top(r)[0] == truth["service"] == "agent", top(r)
    assert any(m["to"] == "agent" for m in r["load_moves"]), r["load_moves"]
    # the evidence says where the surge was seen: the backend's request metrics, sent by the agent
    sent = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "rate_shift" and e.get("source") == "metrics"]
    assert sent and sent[0]["after"] > 3 * sent[0]["before"] and sent[0]["callee"] in r["root_causes"][0]["summary"]
    # without the metrics nothing says the calls surged: no load is handed back
    assert not any(m["to"] == "agent" for m in seen["traces only"]["load_moves"])


def agent_swamps_orders_beside_web(tb, t, bad, rng):
    """From the first trace on, an agent calls orders 19 times as often as web's users do; orders,
    swamped, answers in ~250 ms one time in six. No status anywhere."""
    agent = rng.random() < 0.95
    root = (tb.span("agent", "invoke_agent support", duration_ms=0) if agent
            else tb.span("web", "GET /orders/{id}", duration_ms=0))
    d = jitter(rng, 250 if rng.random() < 0.16 else 6)
    c = root.child(root.service, "call orders", kind="CLIENT", offset_ms=1, duration_ms=d + 1)
    c.child("orders", "GET /orders/{id}", kind="SERVER", offset_ms=0.5, duration_ms=d)
    root.end_ns = c.end_ns + int(1e6)


def _served_per_minute(service, per_minute, since, minutes):
    """`service`'s http.server.request.duration as delta histograms, one point a minute."""
    from interplay.testing import kv_list
    points = [{"startTimeUnixNano": str(since + m * MIN), "timeUnixNano": str(since + (m + 1) * MIN),
               "count": str(per_minute(m)), "sum": 0.01 * per_minute(m)} for m in range(minutes)]
    return {"resourceMetrics": [{"resource": {"attributes": kv_list({"service.name": service})}, "scopeMetrics": [
        {"metrics": [{"name": "http.server.request.duration", "unit": "s",
                      "histogram": {"aggregationTemporality": 1, "dataPoints": points}}]}]}]}


@pytest.mark.parametrize("web_before_per_min, sent", [(12, True), (5, False)])
def test_with_no_trace_baseline_the_caller_that_added_the_surge_sends_it_though_the_others_drift(
        tmp_path, web_before_per_min, sent):
    """orders' request metrics reach ten minutes before the traces: it served `web_before_per_min`
    a minute, now ~300. In the traces web calls it ~15 times a minute and the agent the rest: at 12
    before, web's calls are what they were, give or take (the metrics' minutes and the traces'
    seconds never count quite alike) and the agent sent the surge; at 5, web's own calls tripled
    too and no one caller added them all."""
    ip = load(tmp_path, requests(agent_swamps_orders_beside_web, minutes=5, every_s=0.2))
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(_served_per_minute(
        "orders", lambda m: web_before_per_min if m < 10 else 300, T0 - 10 * MIN, 15)))
    ip.ingest_file(path)
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=T0))):
        moved = [m for m in r["load_moves"] if m["to"] == "agent"]
        if not sent:
            assert not moved and top(r)[0] == "orders", (r["load_moves"], top(r))
            continue
        assert moved and moved[0]["from"] == "orders", r["load_moves"]
        assert top(r)[0] == "agent", [(c["service"], c["summary"]) for c in r["root_causes"]]


@pytest.mark.parametrize("temporality", [1, 2])  # delta, cumulative
def test_request_rates_from_server_histograms_either_temporality(tmp_path, temporality):
    """orders serves 10 requests a minute for ten minutes, then 100 (two routes, summed); auth 50
    throughout. Delta points carry each minute's count, cumulative ones the running total."""
    from interplay.rca._surge import rate_surges
    from interplay.testing import kv_list

    def points(route, per_minute):
        total, out = 0, []
        for m in range(20):
            n = per_minute(m)
            total += n
            start = T0 + (m if temporality == 1 else 0) * MIN
            out.append({"startTimeUnixNano": str(start), "timeUnixNano": str(T0 + (m + 1) * MIN),
                        "count": str(n if temporality == 1 else total), "sum": float(n),
                        "attributes": kv_list({"http.route": route})})
        return out

    def service(name, pts):
        return {"resource": {"attributes": kv_list({"service.name": name})}, "scopeMetrics": [{"metrics": [
            {"name": "http.server.request.duration", "unit": "s",
             "histogram": {"aggregationTemporality": temporality, "dataPoints": pts}}]}]}

    body = {"resourceMetrics": [
        service("orders", points("/a", lambda m: 5 if m < 10 else 50) + points("/b", lambda m: 5 if m < 10 else 50)),
        service("auth", points("/s", lambda m: 50))]}
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps(body))
    ip = Interplay.open(":memory:")
    ip.ingest_file(path)
    onset = T0 + 10 * MIN
    surges = rate_surges(ip.store, TimeRange(T0, onset), TimeRange(onset, T0 + 21 * MIN))
    assert set(surges) == {"orders"}, surges
    assert surges["orders"].before == pytest.approx(10 / 60) and surges["orders"].after == pytest.approx(100 / 60)
    assert surges["orders"].extra_share == pytest.approx(0.9)


def test_blind_after_a_short_trace_baseline_the_request_metrics_say_who_sends_a_surge(tmp_path):
    """The same loop, the traces starting a few seconds before it: blind, the onset found lies half
    a minute into the loop, so the traces' own before already holds it and shows no rise; the
    request metrics, from minutes before, do."""
    out = tmp_path / "loop.jsonl"
    truth = simulate("agentic", "agent_tool_loop", 0, out, duration_s=900, rate_per_s=1.5, late=True)
    ip = Interplay.open(":memory:")
    ip.ingest_file(out)
    r = to_json(ip.investigate())
    assert parse_time_ns(r["onset"], where="onset") > parse_time_ns(truth["injected_at"], where="truth")
    assert top(r)[0] == truth["service"] == "agent", top(r)
    assert any(m["to"] == "agent" and "why" not in m for m in r["load_moves"]), r["load_moves"]


def _lag_csv(path, behind, *, minutes=5, since_min=-3):
    """RCAEval-layout metrics a minute apart from 20 minutes before the traces: email's consumer lag
    (kafka_consumergroup_lag) at a message or so, `behind` from `since_min` minutes on; shipping's
    steady. Traces begin at T0."""
    lines = ["time,email_kafka_consumergroup_lag,shipping_kafka_consumergroup_lag"]
    for m in range(-20, minutes):
        lag = behind if m >= since_min else 1 + (m % 3) * 0.2
        lines.append(f"{(T0 + m * MIN) // 10**9},{lag + (m % 2) * 0.1:.3f},{3 + (m % 3):.3f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def orders_queue_behind_from_the_start(tb, t, bad, rng):
    """Page views beside checkout's orders that email takes from a queue half a minute late, the
    same from the first trace on: with no before and no other consumer, the queue's own spans show
    nothing that grew or stands out."""
    _frontend_calls(tb, rng, [("catalog", 5, 1), ("cart", 4, 1)])
    root = tb.span("checkout", "POST /order", duration_ms=jitter(rng, 20))
    prod = root.child("checkout", "send orders", kind="PRODUCER", offset_ms=5, duration_ms=1,
                      attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"})
    consumer = tb.__class__(t + int((30 + rng.uniform(-1, 1)) * 1e9), seed=rng.getrandbits(32))
    consumer.span("email", "process orders", kind="CONSUMER", duration_ms=jitter(rng, 3), links=[prod],
                  attributes={"messaging.system": "kafka", "messaging.destination.name": "orders"})
    return consumer


@pytest.mark.parametrize("behind, found", [(400, True), (8, False)])
def test_with_no_before_in_the_traces_a_consumers_own_lag_metric_says_it_fell_behind(tmp_path, behind, found):
    import random

    from interplay.metrics_csv import ingest_rcaeval_csv
    from interplay.testing import TraceBuilder
    rng = random.Random(5)
    traces, t = [], T0
    while t < T0 + 5 * MIN:
        tb = TraceBuilder(t, seed=rng.getrandbits(32))
        traces += [tb, orders_queue_behind_from_the_start(tb, t, True, rng)]
        t += int(2e9)
    ip = load(tmp_path, traces)
    ingest_rcaeval_csv(ip, _lag_csv(tmp_path / "m.csv", behind))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=T0))):
        lags = [e for c in r["root_causes"] for e in c["evidence"]
                if e["type"] == "queue_lag" and e.get("metric") == "kafka_consumergroup_lag"]
        if found:
            assert top(r)[0] == "email", [(c["service"], c["summary"]) for c in r["root_causes"]]
            assert [e["consumer"] for e in lags] == ["email"] and lags[0]["after"] >= 400, lags
        else:  # a lag of a few messages more comes and goes with any batch
            assert not lags and not [o for o in r["evidence_strength"]["other_symptoms"] if o["kind"] == "lag"]


def test_a_few_messages_waiting_longer_is_no_consumer_falling_behind(tmp_path):
    """After the onset one message in six waits 300 ms (the consumer was busy for a moment) while the
    typical wait stays at 3 ms: a tail in a queue's wait is not lag (the tail test is for calls,
    where a lost segment waits for a retransmit)."""
    traces = queued_orders(lambda t, rng: 0.3 if t >= ONSET and rng.random() < 0.17 else 0.003, 5)
    ip = load(tmp_path, traces)
    r = to_json(ip.investigate(at_ns=ONSET))
    assert not [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "queue_lag"], top(r)


def ads_delayed_beside_a_slow_proxy(tb, t, bad, rng):
    """frontend calls catalog and currency on every request, ad on one in twelve. The exchange with
    currency always spends ~15 ms between the spans (a far proxy, all day long); from the onset
    every exchange with ad waits ~120 ms on ad's network. No status."""
    calls = [("catalog", 5, 0.6), ("currency", 3, 15.0)]
    if rng.random() < 1 / 12:
        calls.append(("ad", 4, 120.0 if bad else 0.6))
    calls_in_turn(tb.span("frontend", "GET /", duration_ms=0), calls, 1.0, rng)


def test_a_gap_that_grew_at_the_onset_outweighs_one_standing_out_all_day(tmp_path):
    """A short before and a delay on ad's network that barely moves the entry point's p90 (one
    request in twelve calls ad), while currency's gap stands out from every other edge all day
    long. The gap that grew in time is a symptom of its own: ad is the cause, blind and at the
    onset, and currency's constant gap is no fault running since the data began."""
    traces = [tb for tb in requests(ads_delayed_beside_a_slow_proxy, minutes=31, every_s=0.1)
              if tb.spans[0].start_ns >= ONSET - 90 * 10**9]
    ip = load(tmp_path, traces)
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=ONSET))):
        assert top(r)[0] == "ad", (top(r), r["evidence_strength"])
        assert "ad" in [o["suspect"] for o in r["evidence_strength"]["other_symptoms"] if o["kind"] == "latency"]
        assert "peers" not in r["onset_source"]


def ads_slow_beside_a_heavy_tail(tb, t, bad, rng):
    """frontend's own handling has a heavy tail all day (one request in seven spends ~400 ms in
    it); one request in ten calls ad, whose own work takes ~60 ms longer from the onset. No status."""
    calls = [("catalog", 5, 0.6)] + ([("ad", 4 + (60 if bad else 0), 0.6)] if rng.random() < 0.1 else [])
    calls_in_turn(tb.span("frontend", "GET /", duration_ms=0), calls,
                  1.0 + (jitter(rng, 400) if rng.random() < 0.15 else 0.0), rng)


def test_a_change_inside_that_one_service_holds_is_not_a_ripple_of_the_tail(tmp_path):
    """Ad's own work slows from the onset; the entry point's p90, set by frontend's own heavy tail,
    does not move. The change inside is ad's alone, so it is not read as the ripple of a fault
    running since the data began (the tail that was there all along)."""
    traces = [tb for tb in requests(ads_slow_beside_a_heavy_tail, minutes=31, every_s=0.25)
              if tb.spans[0].start_ns >= ONSET - 90 * 10**9]
    r = to_json(load(tmp_path, traces).investigate(at_ns=ONSET))
    assert top(r)[0] == "ad", (top(r), r["evidence_strength"])
    assert "given" in r["onset_source"]


def payment_slow_behind_rare_checkouts(tb, t, bad, rng):
    """Most requests browse (frontend calls catalog); one in thirty checks out (frontend → checkout
    → payment). From the onset payment's own work takes ~250 ms longer, and catalog's a third
    longer (a busier node: a slight, broad shift). No status."""
    root = tb.span("frontend", "GET /", duration_ms=0)
    if rng.random() >= 1 / 30:
        calls_in_turn(root, [("catalog", 6.5 if bad else 5, 0.6)], 1.0, rng)
        return
    co = root.child("frontend", "call checkout", kind="CLIENT", offset_ms=1.0, duration_ms=0)
    server = co.child("checkout", "PlaceOrder", kind="SERVER", offset_ms=0.3, duration_ms=0)
    pay = jitter(rng, 20) + (jitter(rng, 250) if bad else 0.0)
    c = server.child("checkout", "call payment", kind="CLIENT", offset_ms=2, duration_ms=pay + 0.8)
    c.child("payment", "Charge", kind="SERVER", offset_ms=0.4, duration_ms=pay)
    server.end_ns = c.end_ns + int(jitter(rng, 3) * 1e6)
    co.end_ns = server.end_ns + int(0.4e6)
    root.end_ns = co.end_ns + int(jitter(rng, 1) * 1e6)


def test_a_service_few_requests_reach_is_found_by_how_surely_its_requests_slowed(tmp_path):
    """Two minutes before and one after, at two requests a second: eight payments before, four
    after, every one of them slower than every one before. No entry point moves clearly, and a p90
    of four requests counts for little by its size: how surely they are slower says payment
    changed, more than catalog's slight shift over a hundred requests."""
    traces = [tb for tb in requests(payment_slow_behind_rare_checkouts, minutes=31, every_s=0.5)
              if tb.spans[0].start_ns >= ONSET - 2 * MIN]
    r = to_json(load(tmp_path, traces).investigate(at_ns=ONSET))
    assert top(r)[0] == "payment", (top(r), r["evidence_strength"])


def refunds_failing_then_worse(tb, t, bad, rng):
    """Light traffic: a refund every 10 s through frontend → payment, and a busier page beside it.
    From the onset a fifth of refunds fail in payment; in the data's last 90 s all do."""
    page = tb.span("frontend", "GET /", duration_ms=jitter(rng, 20))
    page.child("catalog", "GET /products", kind="SERVER", offset_ms=2, duration_ms=jitter(rng, 8))
    if int(t // 10**9) % 10:
        return
    failing = bad and (((t - ONSET) // (10 * 10**9)) % 5 == 0 or t >= ONSET + 8.5 * MIN)
    refund = tb.span("frontend", "POST /refund", offset_ms=1, duration_ms=jitter(rng, 30), error=failing)
    call = refund.child("frontend", "call payment", kind="CLIENT", offset_ms=2, duration_ms=20, error=failing)
    call.child("payment", "POST /refund", kind="SERVER", offset_ms=1, duration_ms=jitter(rng, 15), error=failing)


def test_on_light_traffic_the_onset_is_where_failures_begin_not_their_last_burst(tmp_path):
    """Blind: the clearest-looking split of a sparse error rate is a burst near the end, which
    leaves a handful of requests after it. The onset is where the failures began."""
    ip = load(tmp_path, requests(refunds_failing_then_worse, minutes=40, every_s=2.0))
    r = to_json(ip.investigate())
    onset = r["windows"]["incident"]["since_ns"]
    assert abs(onset - ONSET) <= MIN, format_time(onset)
    assert top(r)[0] == "payment", top(r)
    assert r["evidence_strength"]["rankable"]


def refunds_failing_after_a_deploy(tb, t, bad, rng):
    """A refund every 20 s through frontend → payment, beside a busy page whose catalog call has a
    slow tail all day. payment 2.1.0 goes out at the onset and fails one refund in eight."""
    page = tb.span("frontend", "GET /", duration_ms=jitter(rng, 20))
    page.child("catalog", "GET /products", kind="SERVER", offset_ms=2,
               duration_ms=jitter(rng, 60 if rng.random() < 0.1 else 8))
    if int(t // 10**9) % 20:
        return
    failing = bad and rng.random() < 1 / 8
    refund = tb.span("frontend", "POST /refund", offset_ms=1, duration_ms=jitter(rng, 30), error=failing)
    call = refund.child("frontend", "call payment", kind="CLIENT", offset_ms=2, duration_ms=20, error=failing)
    call.child("payment", "POST /refund", kind="SERVER", offset_ms=1, duration_ms=jitter(rng, 15), error=failing,
               version="2.1.0" if bad else "2.0.3")


def test_a_faint_change_right_after_a_deploy_is_a_better_guess_than_the_peers_order(tmp_path):
    """Blind: a few refunds fail after payment's deploy, too few to call the change clear. The
    deploy dates the onset and payment is the guess, said to be one, not catalog's all-day tail."""
    ip = load(tmp_path, requests(refunds_failing_after_a_deploy, minutes=40, every_s=2.0),
              changes=[{"service": "payment", "kind": "deploy", "description": "deploy payment 2.1.0",
                        "time": format_time(ONSET - 20 * 10**9)}])
    r = to_json(ip.investigate())
    assert top(r)[0] == "payment", top(r)
    assert not r["evidence_strength"]["rankable"]
    assert 0 <= r["windows"]["incident"]["since_ns"] - ONSET <= 5 * MIN


def test_a_change_that_did_not_last_is_no_onset_beside_a_fault_running_all_along(tmp_path):
    """cart fails a third of its calls from the first trace on; from minute 6 to 9 of 12 a batch job
    makes catalog four times slower. Its start is the clearest change in time, but it went away
    again, as faults do not: the failures, compared with their peers, are the guess."""
    def build(tb, t, bad, rng):
        cart_failing_from_the_start(tb, t, bad, rng)
        if T0 + 6 * MIN <= t < T0 + 9 * MIN:
            catalog = next(s for s in tb.spans if s.service == "catalog")
            catalog.end_ns += 3 * (catalog.end_ns - catalog.start_ns)
            for s in tb.spans:
                if s.service == "frontend":
                    s.end_ns = max(s.end_ns, catalog.end_ns + 10**6)
    ip = load(tmp_path, requests(build, minutes=12))
    r = to_json(ip.investigate())
    assert top(r)[0] == "cart", top(r)
    assert r["evidence_strength"]["rankable"] is False
    assert "did not last" in r["evidence_strength"]["note"], r["evidence_strength"]["note"]


def a_catch_all_entry_with_a_slow_callee(tb, t, bad, rng):
    """Every request enters by one catch-all operation whose own time varies widely; a fifth of them
    call shipping, whose own work is five times slower from the onset."""
    root = tb.span("frontend", "Recv.", duration_ms=0)
    end = 1.0 + rng.lognormvariate(math.log(20), 1.0)
    if rng.random() < 0.2:
        d = jitter(rng, 8) * (5 if bad else 1)
        c = root.child("frontend", "call shipping", kind="CLIENT", offset_ms=end, duration_ms=d + 0.6)
        c.child("shipping", "GetQuote", kind="SERVER", offset_ms=0.3, duration_ms=d)
        end += d + 1
    root.end_ns = root.start_ns + int(end * 1e6)


def test_a_service_whose_own_requests_shift_far_more_clearly_than_the_entry_points_dates_the_onset(tmp_path):
    """The entry point's wide spread hides shipping's slowdown (a fifth of its requests, a few ms
    each) and its clearest-looking shift is noise half an hour earlier. shipping's own requests
    shifted far more clearly: they date the onset, and are the symptom there."""
    ip = load(tmp_path, requests(a_catch_all_entry_with_a_slow_callee, minutes=34, every_s=2.0, seed=5))
    r = to_json(ip.investigate())
    assert top(r)[0] == "shipping", top(r)
    assert abs(r["windows"]["incident"]["since_ns"] - ONSET) <= MIN
    assert "own requests of shipping" in r["onset_source"], r["onset_source"]


def cart_slow_from_the_start_beside_a_chatty_recommendation(tb, t, bad, rng):
    """frontend calls recommendation and cart on every request. recommendation logs a caught
    ValidationError in a third of its requests all day long, which changes nothing for anyone; cart
    waits on a lock in a fifth of its requests from the data's first second on, and frontend gives up
    on those after 300 ms and logs the timeout. No span status anywhere."""
    stuck = rng.random() < 0.2
    root = tb.span("frontend", "GET /", duration_ms=320 if stuck else jitter(rng, 20),
                   exception="TimeoutError" if stuck else None, caught=True)
    c = root.child("frontend", "call recommendation", kind="CLIENT", offset_ms=1, duration_ms=6)
    c.child("recommendation", "ListRecommendations", kind="SERVER", offset_ms=0.5, duration_ms=5,
            exception="ValidationError" if rng.random() < 0.33 else None, caught=True)
    c = root.child("frontend", "call cart", kind="CLIENT", offset_ms=8, duration_ms=300 if stuck else 6)
    c.child("cart", "GetCart", kind="SERVER", offset_ms=0.5, duration_ms=jitter(rng, 900) if stuck else 5)


def test_with_no_before_marks_that_go_with_none_of_the_callers_failures_are_background(tmp_path):
    """The fault runs from the data's first second, and the onset given is that second: no before.
    recommendation's exceptions stand out from the other services' marks, but frontend fails (its
    timeouts on cart) no more often when recommendation logged one than when it did not: they
    change nothing for anyone, as errors logged all day. cart, which frontend gave up on, is the fault."""
    ip = load(tmp_path, requests(cart_slow_from_the_start_beside_a_chatty_recommendation, minutes=5, every_s=0.5))
    for r in (to_json(ip.investigate(at_ns=T0)), to_json(ip.investigate())):
        assert top(r)[0] == "cart", [(c["service"], c["summary"]) for c in r["root_causes"]]
        marks = {c["service"] for c in r["root_causes"] for e in c["evidence"] if e["type"] == "exception_surge"}
        assert "recommendation" not in marks, marks


def pricing_slow_under_a_rare_agent(tb, t, bad, rng):
    """web pages and, now and then, an agent's run call search, which calls pricing. pricing takes
    400 ms in a third of its requests from the data's first second on. No status anywhere."""
    agent = rng.random() < 0.025
    if agent:
        root = tb.span("agent", "invoke_agent shopper", duration_ms=0)
        call = root.child("agent", "GET /search", kind="CLIENT", offset_ms=400, duration_ms=0)
        page = call.child("web", "GET /search", kind="SERVER", offset_ms=0.5, duration_ms=0)
    else:
        root = call = page = tb.span("web", "GET /home", duration_ms=0)
    k = page.child("web", "call search", kind="CLIENT", offset_ms=1, duration_ms=0)
    server = k.child("search", "GET /q", kind="SERVER", offset_ms=0.3, duration_ms=0)
    p = server.child("search", "call pricing", kind="CLIENT", offset_ms=1, duration_ms=0)
    prices = p.child("pricing", "GET /prices", kind="SERVER", offset_ms=0.3,
                     duration_ms=jitter(rng, 400) if rng.random() < 0.3 else jitter(rng, 8))
    p.end_ns = prices.end_ns + int(0.3e6)
    server.end_ns = p.end_ns + int(2e6)
    k.end_ns = server.end_ns + int(0.3e6)
    page.end_ns = k.end_ns + int(1e6)
    if agent:
        call.end_ns = page.end_ns + int(0.3e6)
        root.end_ns = call.end_ns + int(300e6)


def test_an_onset_given_in_the_first_seconds_with_too_few_symptom_requests_still_gets_the_peers_guess(tmp_path):
    """The symptom given is the agent, whose five runs are too few to compare with their peers, at
    an onset 4 s into the data: no before, and nothing to compare. As blind, the peers' order over
    all requests is the guess (pricing), said to be one, not an empty or arbitrary ranking."""
    ip = load(tmp_path, requests(pricing_slow_under_a_rare_agent, minutes=5, every_s=1.0, seed=3))
    blind = to_json(ip.investigate())
    guided = to_json(ip.investigate(symptom="agent", at_ns=T0 + 4 * 10**9))
    for r in (blind, guided):
        assert top(r)[:1] == ["pricing"], [(c["service"], c["summary"]) for c in r["root_causes"]]
        assert not r["evidence_strength"]["rankable"] and "guess" in r["evidence_strength"]["note"]
    assert "the 4 s before the onset given are no before" in guided["evidence_strength"]["note"]


def test_packet_loss_after_a_short_light_before_is_read_against_every_edges_before(tmp_path):
    """Two minutes of before at a request every 10 s: a dozen exchanges per edge, none slow, too few
    for one edge's own past to make a tenth of slow exchanges after it sure. No exchange on any edge
    waited that long before, which all the edges' befores together do make sure."""
    onset = T0 + 2 * MIN
    lossy = callers_of_currency(_retransmit)

    def build(tb, t, bad, rng):
        lossy(tb, t, t >= onset, rng)
    ip = load(tmp_path, requests(build, minutes=12, every_s=10.0))
    r = to_json(ip.investigate(symptom="frontend", at_ns=onset))
    assert top(r)[0] == "currency", [(c["service"], c["summary"]) for c in r["root_causes"]]
    gaps = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "network_gap"]
    assert gaps and all("exchanges over" in e["summary"] for e in gaps), gaps


def test_on_busy_traffic_calls_that_stop_a_few_seconds_into_the_data_are_dated_there(tmp_path):
    """Ten product pages a second; 5 s into six minutes of data catalog's answer starts making
    frontend skip the rest. The fifty requests before are a before, though only seconds long: the
    onset is dated within seconds of it (not a twentieth of the data later), and catalog is the
    cause, blind and with the data's start given as the onset."""
    onset = T0 + 5 * 10**9

    def build(tb, t, bad, rng):
        product_page_cut_short(tb, t, t >= onset, rng)
    ip = load(tmp_path, requests(build, minutes=6, every_s=0.1))
    # blind, and told the fault began when the data does (no before: the requests would be
    # compared with their peers, and all of them alike stop early)
    for r in (to_json(ip.investigate()), to_json(ip.investigate(at_ns=T0))):
        assert top(r)[0] == "catalog", [(c["service"], c["summary"]) for c in r["root_causes"]]
        assert 0 <= r["windows"]["incident"]["since_ns"] - onset < 5 * 10**9, r["onset"]
        assert "call paths" in r["onset_source"], r["onset_source"]
    assert [e for e in r["root_causes"][0]["evidence"] if e["type"] == "path_shift"]


def concurrent_calls_without_client_spans(tb, t, bad, rng):
    """frontend calls catalog and reviews at once, with no CLIENT spans (each SERVER span hangs right
    under frontend's own), and answers when both have. After the onset reviews takes 200 ms more."""
    root = tb.span("frontend", "GET /product", duration_ms=0)
    a = root.child("catalog", "GetProduct", kind="SERVER", offset_ms=1, duration_ms=jitter(rng, 5))
    b = root.child("reviews", "ListReviews", kind="SERVER", offset_ms=1.2,
                   duration_ms=jitter(rng, 8) + (200 if bad else 0))
    root.end_ns = max(a.end_ns, b.end_ns) + int(jitter(rng, 1) * 1e6)


def test_the_wait_for_a_call_made_beside_another_is_no_gap_after_the_other(tmp_path):
    """With no CLIENT spans, an answer's way back is read as the time until the caller goes on. Here
    frontend goes on only when reviews, called beside catalog, answers: that wait is reviews', not
    time on the wire after catalog's answer, and reviews is the cause."""
    ip = load(tmp_path, requests(concurrent_calls_without_client_spans))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(symptom="frontend", at_ns=ONSET))):
        assert top(r)[0] == "reviews", [(c["service"], c["summary"]) for c in r["root_causes"]]
        gaps = [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "network_gap"]
        assert not [e for e in gaps if e["callee"] == "catalog"], gaps


def payment_answered_on_the_second_try(tb, t, bad, rng):
    """frontend's one CLIENT span around its call to payment; after the onset payment's first attempt
    hangs 150 ms and fails, and the client's retry, inside the same CLIENT span, gets the answer."""
    root = tb.span("frontend", "POST /checkout", duration_ms=0)
    call = root.child("frontend", "call payment", kind="CLIENT", offset_ms=1, duration_ms=0)
    at = 0.4
    if bad:
        first = call.child("payment", "Charge", kind="SERVER", offset_ms=at, duration_ms=jitter(rng, 150),
                           error=True)
        at = (first.end_ns - call.start_ns) / 1e6 + 0.8
    last = call.child("payment", "Charge", kind="SERVER", offset_ms=at, duration_ms=jitter(rng, 10))
    call.end_ns = last.end_ns + int(0.4e6)
    root.end_ns = call.end_ns + int(1e6)


def test_a_client_span_around_a_retried_call_is_no_gap_between_the_services(tmp_path):
    """The client span holds both attempts: its time less one attempt's is the other attempt's, not
    time on the wire. payment is the cause, with no gap on frontend → payment."""
    ip = load(tmp_path, requests(payment_answered_on_the_second_try))
    r = to_json(ip.investigate())
    assert top(r)[0] == "payment", [(c["service"], c["summary"]) for c in r["root_causes"]]
    gaps = [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "network_gap"]
    assert not gaps, gaps


def checkout_cut_short_from_the_start(tb, t, bad, rng, stop=0.6):
    """From the data's first second cart's answer (no error, no latency change) makes checkout skip
    the rest of an order in 60% of them. Beside it, frontend's one operation name serves three
    routes: a banner (ads only); a product page (currency, ads, catalog, slow now and then all day
    long, cart, shipping, and half the time a cache read of its own); and a basket page that calls
    currency last, after three other services. No status anywhere."""
    def call(parent, caller, callee, op, at, ms):
        c = parent.child(caller, f"call {callee}", kind="CLIENT", offset_ms=at, duration_ms=ms + 0.6)
        c.child(callee, op, kind="SERVER", offset_ms=0.3, duration_ms=ms)
        return at + ms + 1.6

    route = rng.random()
    if route < 0.3:
        root = tb.span("frontend", "POST /checkout", duration_ms=0)
        k = root.child("frontend", "call checkout", kind="CLIENT", offset_ms=1, duration_ms=0)
        order = k.child("checkout", "PlaceOrder", kind="SERVER", offset_ms=0.3, duration_ms=0)
        at = call(order, "checkout", "cart", "GetCart", 1, jitter(rng, 4))
        if rng.random() >= stop:
            for callee, op, ms in (("currency", "Convert", 2), ("payment", "Charge", 12), ("shipping", "Quote", 5)):
                at = call(order, "checkout", callee, op, at, jitter(rng, ms))
            order.child("checkout", "INSERT orders", kind="CLIENT", offset_ms=at, duration_ms=jitter(rng, 3))
            at += 4
        order.end_ns = order.start_ns + int(at * 1e6)
        k.end_ns = order.end_ns + int(0.3e6)
        root.end_ns = k.end_ns + int(1e6)
        return
    root = tb.span("frontend", "Recv.", duration_ms=0)
    at = 1.0
    if route < 0.5:
        at = call(root, "frontend", "ads", "GetBanner", at, jitter(rng, 3))
    elif route < 0.85:
        for callee, op, ms in (("currency", "Convert", 2), ("ads", "ListAds", 3), ("catalog", "GetProduct", 6),
                               ("cart", "GetCart", 4), ("shipping", "Quote", 5)):
            at = call(root, "frontend", callee, op, at, jitter(rng, 90) if op == "GetProduct" and
                      rng.random() < 0.1 else jitter(rng, ms))
        if rng.random() < 0.5:  # a cache miss: the page is read from the cache after the quote
            root.child("frontend", "GET page", kind="CLIENT", offset_ms=at, duration_ms=jitter(rng, 1))
            at += 1.5
    else:
        for callee, op, ms in (("recommendation", "List", 5), ("catalog", "GetProduct", 6), ("cart", "GetCart", 4),
                               ("currency", "Convert", 2)):
            at = call(root, "frontend", callee, op, at, jitter(rng, ms))
    root.end_ns = root.start_ns + int((at + 1) * 1e6)


def test_with_no_before_requests_that_stop_right_after_one_answer_while_their_peers_go_on_name_it(tmp_path):
    """No before: nothing changes in time. What the call paths still say is that most checkouts end
    right after cart's answer, skipping the calls and the write the others go on to: cart is the
    likeliest cause, with the data's start given as the onset, for all requests or frontend's.
    frontend's requests end early too, but none is a path cut short: the banners end after another
    operation of ads than the product pages call; half the product pages end after shipping, skipping
    only a cache read of frontend's own; the basket pages end after currency with fewer services
    called than the product pages that go on after it, but they came another way to it."""
    ip = load(tmp_path, requests(checkout_cut_short_from_the_start, minutes=5, every_s=1.0))
    for r in (to_json(ip.investigate(at_ns=T0)), to_json(ip.investigate(symptom="frontend", at_ns=T0))):
        assert top(r)[0] == "cart", [(c["service"], c["summary"]) for c in r["root_causes"]]
        stops = [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "path_shift"]
        assert [e["caller"] for e in stops] == ["checkout"], stops
        assert "compared with their peers" in stops[0]["summary"] and stops[0]["after"] > 0.5, stops
        assert [h["service"] for h in r["root_causes"][0]["chain"]][:2] == ["cart", "checkout"]


@pytest.mark.parametrize("step, cut_short", [("INSERT orders", True), ("HSET cart:42", True),
                                             ("SELECT order_totals", False), ("GET cart:42", False)])
def test_with_no_before_orders_that_skip_their_own_write_after_one_answer_name_it(tmp_path, step, cut_short):
    """From the first second, 70% of the orders end right after inventory's answer, skipping the
    order's own write: they call no fewer services than the others, only the work the request exists
    for is left undone. That is a path cut short, with no before too. The same split skipping only
    a read of its own (a query, a cache read) is the code's own shortcut: no path cut short."""
    def build(tb, t, bad, rng):
        order_write_skipped(tb, t, True, rng, share=0.7, step=step)
    ip = load(tmp_path, requests(build, minutes=5, every_s=1.0))
    for r in (to_json(ip.investigate()), to_json(ip.investigate(symptom="web", at_ns=T0))):
        stops = [(c["service"], e) for c in r["root_causes"] for e in c["evidence"] if e["type"] == "path_shift"]
        if not cut_short:
            assert not stops, stops
            continue
        assert top(r)[0] == "inventory", [(c["service"], c["summary"]) for c in r["root_causes"]]
        assert [(who, e["caller"]) for who, e in stops] == [("inventory", "orders")], stops
        assert "compared with their peers" in stops[0][1]["summary"] and stops[0][1]["after"] > 0.5, stops


def test_with_no_before_calls_the_export_lost_are_no_path_cut_short(tmp_path):
    """Every order goes the whole way, but in 60% of them the export lost the CLIENT spans of
    the calls after cart: their SERVER spans hang from a parent that is not there, and those
    orders read as ending right after cart. Traces that lost spans are not read for paths."""
    def build(tb, t, bad, rng):
        checkout_cut_short_from_the_start(tb, t, bad, rng, stop=0.0)
        if rng.random() < 0.6:
            tb.spans = [s for s in tb.spans if not (s.service == "checkout" and s.kind == "CLIENT"
                                                    and s.name != "call cart")]
    ip = load(tmp_path, requests(build, minutes=5, every_s=1.0))
    r = to_json(ip.investigate(at_ns=T0))
    stops = [e for c in r["root_causes"] for e in c["evidence"] if e["type"] == "path_shift"]
    assert not stops, stops


def test_with_too_few_requests_before_an_onset_given_those_cut_short_after_it_are_the_guess(tmp_path):
    """A request every 3 s: the 70 s before the onset given hold too few orders to compare paths
    with, and frontend's requests barely move. After it, most orders stop right after cart's
    answer: split among themselves, they are the likeliest guess (said to be one), not an empty
    ranking."""
    onset = T0 + 70 * 10**9

    def build(tb, t, bad, rng):
        checkout_cut_short_from_the_start(tb, t, bad, rng, stop=0.6 if t >= onset else 0.0)
    ip = load(tmp_path, requests(build, minutes=6, every_s=3.0, seed=1))
    r = to_json(ip.investigate(symptom="frontend", at_ns=onset))
    assert top(r)[:1] == ["cart"], r["evidence_strength"]
    assert not r["evidence_strength"]["rankable"] and "guess" in r["evidence_strength"]["note"]
    stops = [e for e in r["root_causes"][0]["evidence"] if e["type"] == "path_shift"]
    assert stops and "compared with their peers" in stops[0]["summary"], stops


def search_slow_from_the_start_then_a_busy_host(tb, t, bad, rng):
    """web calls auth, search, inventory and pricing in turn. search answers in 300 ms in a third of
    its requests from the data's first second on; 40 s in, the host gets busy: every other
    service's work, and web's own between calls, takes twice as long. No status anywhere."""
    k = 2.0 if t >= T0 + 40 * 10**9 else 1.0
    root = tb.span("web", "GET /page", duration_ms=0)
    at = 1.0
    for callee, ms in (("auth", 5), ("search", 10), ("inventory", 8), ("pricing", 6)):
        d = jitter(rng, 300) if callee == "search" and rng.random() < 0.3 else jitter(rng, ms) * k
        c = root.child("web", f"call {callee}", kind="CLIENT", offset_ms=at, duration_ms=d + 0.6)
        c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=0.3, duration_ms=d)
        at += d + 1.6 + 2 * (k - 1)
    root.end_ns = root.start_ns + int((at + 1) * 1e6)


def test_a_change_early_in_the_data_that_no_one_service_explains_yields_to_a_fault_running_all_along(tmp_path):
    """Blind, the clearest change is the busy host, half a minute into the data: every service a
    little slower, none holding half of it. Compared with their peers, the slow requests are
    search's, from the first second: a fault already running when the data begins is the reading,
    and the note says why."""
    ip = load(tmp_path, requests(search_slow_from_the_start_then_a_busy_host, minutes=5, every_s=0.5, seed=1))
    r = to_json(ip.investigate())
    assert top(r)[0] == "search", [(c["service"], c["summary"]) for c in r["root_causes"]]
    assert "explained by no one service" in r["evidence_strength"]["note"], r["evidence_strength"]
    assert r["windows"]["incident"]["since_ns"] == T0, r["onset"]


def search_on_a_slow_wire_then_a_busy_host(tb, t, bad, rng, busy, searched):
    """web calls auth, search (in a share `searched` of its requests), inventory and pricing in
    turn; every exchange with search waits ~60 ms on the network from the first second. 100 s in the host gets busy: every service's work,
    and web's own between calls, takes `busy` times as long."""
    k = busy if t >= T0 + 100 * 10**9 else 1.0
    root = tb.span("web", "GET /page", duration_ms=0)
    at = 1.0
    for callee, ms in (("auth", 5), ("search", 3), ("inventory", 8), ("pricing", 6)):
        if callee == "search" and rng.random() >= searched:
            continue
        d, wire = jitter(rng, ms) * k, jitter(rng, 60) if callee == "search" else 0.6
        c = root.child("web", f"call {callee}", kind="CLIENT", offset_ms=at, duration_ms=d + wire)
        c.child(callee, f"serve {callee}", kind="SERVER", offset_ms=wire / 2, duration_ms=d)
        at += d + wire + 1 + 2 * (k - 1)
    root.end_ns = root.start_ns + int((at + 1) * 1e6)


def test_a_change_minutes_into_the_data_that_no_one_service_explains_yields_to_an_edge_standing_out(tmp_path):
    """The busy host is the clearest change, 100 s into the data (past its first minute) and
    clearer than search's edge stands out from the others; but every service is a little slower,
    none holding half of it, while the wait on search's edge stands out on its own from the first
    second: a fault already running when the data begins is the reading, and the note says why."""
    ip = load(tmp_path, requests(lambda tb, t, bad, rng: search_on_a_slow_wire_then_a_busy_host(tb, t, bad, rng, 3.0, 0.05),
                                 minutes=5, every_s=0.5, seed=1))
    r = to_json(ip.investigate())
    assert top(r)[0] == "search", [(c["service"], c["summary"]) for c in r["root_causes"]]
    assert "explained by no one service" in r["evidence_strength"]["note"], r["evidence_strength"]
    assert [e for e in r["root_causes"][0]["evidence"] if e["type"] == "network_gap"]
