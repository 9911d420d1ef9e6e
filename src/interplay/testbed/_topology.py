"""Topologies of the testbed: which services exist, what each endpoint does, who may be a root cause.

One declarative description serves both modes: the simulator walks it to generate spans, the live
services execute it with real HTTP calls, a real connection pool and real sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Call:
    """One outgoing interaction of an endpoint."""

    kind: str  # http | db | cache | produce
    target: str  # service (http), resource (db, cache) or topic (produce)
    route: str = ""  # http: endpoint key of the target ("GET /products")
    op: str = ""  # db: SQL statement, cache: command
    p: float = 1.0  # probability that the call happens in one request
    critical: bool = True  # a failure fails the caller (else it degrades silently)
    timeout_ms: float = 1500.0
    retries: int = 0  # normal retry policy on 5xx (a retry storm raises it)


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    route: str
    self_ms: float  # median own work
    calls: tuple[Call, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.method} {self.route}"


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    endpoints: tuple[Endpoint, ...]
    version: str = "1.4.2"
    consumes: str = ""  # topic this service consumes
    consume_ms: float = 20.0  # median processing time per message
    consume_calls: tuple[Call, ...] = ()
    consume_linked: bool = False  # consumer span in its own trace, linked to the producer
    pool_size: int = 0  # postgres connection pool size (0: no database)

    def endpoint(self, key: str) -> Endpoint:
        for ep in self.endpoints:
            if ep.key == key:
                return ep
        raise KeyError(f"{self.name} has no endpoint {key!r}")


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    agent_id: str
    model: str
    tools: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tool:
    """A tool of the agent runtime; it runs one backend call."""

    name: str
    call: Call
    args: str  # JSON template of the arguments; {n} is replaced by a number


@dataclass(frozen=True)
class Topology:
    name: str
    services: dict[str, Service]
    entries: tuple[tuple[str, str, float], ...]  # (service, endpoint key, weight) hit by users
    resources: dict[str, dict[str, str | int]]  # name -> attributes of the client span
    targets: dict[str, tuple[str, ...]]  # fault -> candidate root-cause services / resources
    batch: tuple[str, str, int, str] = ("", "", 0, "")  # (service, job name, period s, SQL)
    agents: tuple[Agent, ...] = ()
    tools: dict[str, Tool] = field(default_factory=dict)
    agent_service: str = ""
    llm_service: str = ""
    pool_victims: dict[str, str] = field(default_factory=dict)  # pool_cascade: slow callee -> pooled caller
    database: str = "postgres"  # the resource the batch job queries

    @property
    def faults(self) -> tuple[str, ...]:
        return tuple(self.targets)


RESOURCES = {
    "postgres": {"kind": "db", "db.system": "postgresql", "server.port": 5432, "db.namespace": "app"},
    "redis": {"kind": "cache", "db.system": "redis", "server.port": 6379},
    "kafka": {"kind": "queue", "messaging.system": "kafka", "server.port": 9092},
}


def _http(target: str, method: str, route: str, **kw) -> Call:
    return Call("http", target, route=f"{method} {route}", **kw)


def _db(op: str, **kw) -> Call:
    return Call("db", "postgres", op=op, **kw)


def _cache(op: str, **kw) -> Call:
    return Call("cache", "redis", op=op, **kw)


def _mysql(op: str, **kw) -> Call:
    return Call("db", "mysql", op=op, **kw)


def _shop() -> Topology:
    s = {
        "frontend": Service("frontend", (
            Endpoint("GET", "/", 4.0, (
                _http("catalog", "GET", "/products", timeout_ms=800),
                _http("currency", "GET", "/convert", timeout_ms=400),
                _http("cart", "GET", "/cart", timeout_ms=500),
                _http("recommendation", "GET", "/recommendations", critical=False, timeout_ms=600),
            )),
            Endpoint("GET", "/product/{id}", 3.0, (
                _http("catalog", "GET", "/products/{id}", timeout_ms=800),
                _http("currency", "GET", "/convert", timeout_ms=400),
                _http("recommendation", "GET", "/recommendations", critical=False, timeout_ms=600),
            )),
            Endpoint("POST", "/cart", 3.0, (_http("cart", "POST", "/cart", timeout_ms=800),)),
            Endpoint("POST", "/checkout", 5.0, (_http("checkout", "POST", "/checkout", timeout_ms=3000),)),
        ), version="2.7.0"),
        "catalog": Service("catalog", (
            Endpoint("GET", "/products", 6.0, (
                _cache("GET"),
                _db("SELECT id, name, price FROM products WHERE category = $1 LIMIT 20", p=0.6),
            )),
            Endpoint("GET", "/products/{id}", 3.0, (
                _cache("GET"),
                _db("SELECT id, name, price, stock FROM products WHERE id = $1", p=0.7),
            )),
        ), version="3.1.4", pool_size=10),
        "cart": Service("cart", (
            Endpoint("GET", "/cart", 2.0, (_cache("HGETALL"),)),
            Endpoint("POST", "/cart", 3.0, (
                _http("catalog", "GET", "/products/{id}", timeout_ms=700),
                _cache("HSET"),
            )),
        ), version="1.9.3"),
        "checkout": Service("checkout", (
            Endpoint("POST", "/checkout", 8.0, (
                _http("cart", "GET", "/cart", timeout_ms=500),
                _http("currency", "GET", "/convert", timeout_ms=400),
                _http("payment", "POST", "/charge", timeout_ms=2000),
                _http("shipping", "GET", "/quote", timeout_ms=800),
                _db("INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)"),
                Call("produce", "orders"),
            )),
        ), version="4.0.1", pool_size=8),
        "payment": Service("payment", (Endpoint("POST", "/charge", 35.0),), version="1.2.0"),
        "shipping": Service("shipping", (
            Endpoint("GET", "/quote", 4.0, (_db("SELECT rate FROM shipping_rates WHERE zone = $1"),)),
        ), version="2.2.5", consumes="orders", consume_ms=15.0,
            consume_calls=(_db("INSERT INTO shipments (order_id, status) VALUES ($1, $2)"),), pool_size=6),
        "currency": Service("currency", (Endpoint("GET", "/convert", 1.5, (_cache("GET", p=0.5),)),),
                            version="1.0.9"),
        "recommendation": Service("recommendation", (
            Endpoint("GET", "/recommendations", 12.0, (_http("catalog", "GET", "/products", timeout_ms=700),)),
        ), version="0.8.2"),
        "email": Service("email", (Endpoint("POST", "/send", 10.0),), version="1.1.0",
                         consumes="orders", consume_ms=25.0, consume_linked=True),
    }
    entries = (("frontend", "GET /", 0.45), ("frontend", "GET /product/{id}", 0.35),
               ("frontend", "POST /cart", 0.12), ("frontend", "POST /checkout", 0.08))
    targets = {
        "latency": ("postgres", "catalog", "currency", "payment", "shipping", "cart"),
        "errors": ("catalog", "cart", "currency", "payment", "shipping"),
        "cpu": ("catalog", "cart", "checkout", "currency", "recommendation"),
        "pool_exhaustion": ("catalog", "checkout", "shipping"),
        "bad_deploy": ("catalog", "cart", "checkout", "payment", "currency", "shipping"),
        "retry_storm": ("currency", "catalog", "cart"),
        "queue_lag": ("shipping", "email"),
        "network_delay": ("payment", "currency", "cart", "shipping", "catalog"),
        "network_loss": ("currency", "cart", "shipping", "catalog", "payment"),
        "consumer_lag": ("shipping", "email"),
        "timeout_amplification": ("payment", "shipping", "catalog", "cart"),
        "pool_cascade": ("catalog", "currency", "payment"),
        "code_exception": ("catalog", "cart", "payment", "shipping", "currency"),
        "code_return": ("cart", "catalog", "currency"),
    }
    return Topology("shop", s, entries, RESOURCES, targets,
                    batch=("catalog", "reindex-products", 300,
                           "SELECT id, name, description FROM products ORDER BY id LIMIT 500 OFFSET $1"),
                    pool_victims={"catalog": "cart", "currency": "frontend", "payment": "checkout"})


def _agentic() -> Topology:
    s = {
        "web": Service("web", (
            Endpoint("GET", "/search", 3.0, (
                _http("auth", "GET", "/session", timeout_ms=300),
                _http("search", "GET", "/search", timeout_ms=1000),
            )),
            Endpoint("GET", "/item/{id}", 2.0, (
                _http("auth", "GET", "/session", timeout_ms=300),
                _http("inventory", "GET", "/items/{id}", timeout_ms=800),
            )),
            Endpoint("POST", "/orders", 4.0, (
                _http("auth", "GET", "/session", timeout_ms=300),
                _http("orders", "POST", "/orders", timeout_ms=2500),
            )),
        ), version="5.3.0"),
        "auth": Service("auth", (Endpoint("GET", "/session", 1.5, (_cache("GET"),)),), version="2.0.4"),
        "search": Service("search", (
            Endpoint("GET", "/search", 18.0, (
                _db("SELECT id, title FROM products WHERE tsv @@ plainto_tsquery($1) LIMIT 20"),
                _http("pricing", "GET", "/prices", timeout_ms=400),
            )),
        ), version="3.3.1", pool_size=6),
        "inventory": Service("inventory", (
            Endpoint("GET", "/items/{id}", 4.0, (
                _db("SELECT sku, stock, warehouse FROM inventory WHERE sku = $1"),
                _http("pricing", "GET", "/prices", timeout_ms=400),
            )),
        ), version="1.6.0", pool_size=6),
        "orders": Service("orders", (
            Endpoint("POST", "/orders", 9.0, (
                _http("inventory", "GET", "/items/{id}", timeout_ms=800),
                _db("INSERT INTO orders (id, customer_id, sku, qty) VALUES ($1, $2, $3, $4)"),
            )),
            Endpoint("GET", "/orders/{id}", 3.0, (_db("SELECT id, status, total FROM orders WHERE id = $1"),)),
        ), version="2.4.2", pool_size=6),
        "pricing": Service("pricing", (Endpoint("GET", "/prices", 2.0, (_cache("MGET", p=0.7),)),),
                           version="1.0.3"),
        "llm-provider": Service("llm-provider", (Endpoint("POST", "/v1/chat/completions", 450.0),),
                                version="2026.01"),
        "agent": Service("agent", (), version="0.9.4"),
    }
    tools = {
        "search_products": Tool("search_products", _http("search", "GET", "/search", timeout_ms=1500),
                                '{{"query": "usb-c charger {n}"}}'),
        "check_inventory": Tool("check_inventory", _http("inventory", "GET", "/items/{id}", timeout_ms=1000),
                                '{{"sku": "SKU-{n}"}}'),
        "get_order": Tool("get_order", _http("orders", "GET", "/orders/{id}", timeout_ms=1000),
                          '{{"order_id": "ord-{n}"}}'),
        "place_order": Tool("place_order", _http("orders", "POST", "/orders", timeout_ms=3000),
                            '{{"sku": "SKU-{n}", "qty": 1}}'),
        "lookup_customer": Tool("lookup_customer", _db("SELECT id, name, tier FROM customers WHERE id = $1"),
                                '{{"customer_id": {n}}}'),
    }
    agents = (
        Agent("support-agent", "asst_support_01", "gpt-4o-mini", ("get_order", "lookup_customer", "check_inventory")),
        Agent("shopping-assistant", "asst_shop_02", "gpt-4o", ("search_products", "check_inventory", "place_order")),
        Agent("catalog-curator", "asst_curator_03", "gpt-4o-mini", ("search_products", "check_inventory")),
    )
    entries = (("web", "GET /search", 0.5), ("web", "GET /item/{id}", 0.38), ("web", "POST /orders", 0.12))
    targets = {
        "latency": ("search", "inventory", "pricing", "orders", "postgres"),
        "errors": ("inventory", "pricing", "search", "orders"),
        "cpu": ("search", "inventory", "orders"),
        "pool_exhaustion": ("search", "inventory", "orders"),
        "bad_deploy": ("search", "inventory", "orders", "auth", "pricing"),
        "retry_storm": ("pricing", "inventory"),
        "agent_tool_loop": ("agent",),
        "llm_rate_limit": ("llm-provider",),
        "llm_slow": ("llm-provider",),
        "network_delay": ("pricing", "inventory", "auth", "search"),
        "network_loss": ("inventory", "search", "pricing", "auth"),
        "timeout_amplification": ("search", "inventory", "pricing", "orders"),
        "pool_cascade": ("search", "inventory", "pricing"),
        "code_exception": ("inventory", "pricing", "search", "orders", "auth"),
        "code_return": ("auth", "inventory"),
    }
    return Topology("agentic", s, entries, RESOURCES, targets,
                    batch=("orders", "reconcile-orders", 300,
                           "SELECT id, status FROM orders WHERE updated_at > $1 ORDER BY id LIMIT 1000"),
                    agents=agents, tools=tools, agent_service="agent", llm_service="llm-provider",
                    pool_victims={"search": "web", "inventory": "web", "pricing": "inventory"})


def _travel() -> Topology:
    """A holdout: a ticket-booking system with deep chains (gateway -> booking -> travel-search -> seat -> order
    -> mysql) and services shared by many callers (order by five, auth by every gateway route)."""
    auth = _http("auth", "GET", "/verify", timeout_ms=300)
    s = {
        "gateway": Service("gateway", (
            Endpoint("GET", "/api/v1/trips", 3.0, (auth, _http("travel-search", "GET", "/trips", timeout_ms=2500))),
            Endpoint("GET", "/api/v1/orders/{id}", 2.0, (auth, _http("order", "GET", "/orders/{id}", timeout_ms=800))),
            Endpoint("POST", "/api/v1/bookings", 4.0, (auth, _http("booking", "POST", "/bookings", timeout_ms=6000))),
            Endpoint("POST", "/api/v1/payments", 3.0, (auth, _http("payment", "POST", "/pay", timeout_ms=3000))),
            Endpoint("POST", "/api/v1/cancellations", 3.0, (auth, _http("cancel", "POST", "/cancel",
                                                                          timeout_ms=4000))),
        ), version="3.2.0"),
        "auth": Service("auth", (Endpoint("GET", "/verify", 1.5, (_cache("GET"),)),), version="1.8.3"),
        "travel-search": Service("travel-search", (
            Endpoint("GET", "/trips", 6.0, (  # a parallel fan-out
                _http("route", "GET", "/routes/{id}", timeout_ms=600),
                _http("station", "GET", "/stations", timeout_ms=400),
                _http("pricing", "GET", "/price", timeout_ms=500),
                _http("seat", "GET", "/seats/left", timeout_ms=1200),
            )),
            Endpoint("GET", "/trips/{id}", 3.0, (
                _http("route", "GET", "/routes/{id}", timeout_ms=600),
                _http("pricing", "GET", "/price", timeout_ms=500),
                _http("seat", "GET", "/seats/left", timeout_ms=1200),
            )),
        ), version="2.4.1"),
        "route": Service("route", (
            Endpoint("GET", "/routes/{id}", 2.0, (
                _cache("GET"),
                _mysql("SELECT id, stations, distances FROM routes WHERE id = ?", p=0.5),
            )),
        ), version="1.3.0", pool_size=6),
        "station": Service("station", (
            Endpoint("GET", "/stations", 1.5, (
                _cache("MGET"),
                _mysql("SELECT id, name, stay_time FROM stations WHERE id IN (?, ?)", p=0.3),
            )),
        ), version="1.1.4", pool_size=4),
        "pricing": Service("pricing", (
            Endpoint("GET", "/price", 2.0, (
                _cache("GET", p=0.6),
                _mysql("SELECT train_type, base_rate, first_class_rate FROM price_config WHERE route_id = ?", p=0.4),
            )),
        ), version="2.0.2", pool_size=6),
        "seat": Service("seat", (
            Endpoint("GET", "/seats/left", 3.0, (
                _http("order", "GET", "/orders/sold", timeout_ms=800),
                _cache("GET"),
            )),
            Endpoint("POST", "/seats", 4.0, (
                _http("order", "GET", "/orders/sold", timeout_ms=800),
                _cache("HSET"),
            )),
        ), version="1.6.0"),
        "order": Service("order", (
            Endpoint("GET", "/orders/sold", 3.0, (
                _mysql("SELECT seat_no, coach FROM orders WHERE trip_id = ? AND travel_date = ?"),)),
            Endpoint("GET", "/orders/{id}", 2.0, (_mysql("SELECT id, status, price FROM orders WHERE id = ?"),)),
            Endpoint("GET", "/orders/count", 2.0, (
                _mysql("SELECT count(*) FROM orders WHERE account_id = ? AND created_at > ?"),)),
            Endpoint("POST", "/orders", 5.0, (
                _mysql("INSERT INTO orders (id, account_id, trip_id, seat_no, price) VALUES (?, ?, ?, ?, ?)"),)),
            Endpoint("POST", "/orders/{id}/status", 3.0, (_mysql("UPDATE orders SET status = ? WHERE id = ?"),)),
        ), version="3.5.2", pool_size=10),
        "contacts": Service("contacts", (
            Endpoint("GET", "/contacts/{id}", 2.0, (
                _mysql("SELECT id, name, document_number FROM contacts WHERE account_id = ?"),)),
        ), version="1.2.7", pool_size=4),
        "security": Service("security", (
            Endpoint("GET", "/check", 2.5, (
                _http("order", "GET", "/orders/count", timeout_ms=600),
                _cache("GET", p=0.5),
            )),
        ), version="1.0.6"),
        "food": Service("food", (
            Endpoint("POST", "/food-orders", 4.0, (
                _http("station", "GET", "/stations", timeout_ms=400),
                _mysql("INSERT INTO food_orders (order_id, dish, price) VALUES (?, ?, ?)"),
            )),
        ), version="1.4.0", consumes="bookings", consume_ms=12.0,
            consume_calls=(_mysql("INSERT INTO food_deliveries (order_id, station_id) VALUES (?, ?)"),), pool_size=4),
        "booking": Service("booking", (
            Endpoint("POST", "/bookings", 8.0, (
                _http("security", "GET", "/check", timeout_ms=900),
                _http("contacts", "GET", "/contacts/{id}", timeout_ms=500),
                _http("travel-search", "GET", "/trips/{id}", timeout_ms=1800),
                _http("seat", "POST", "/seats", timeout_ms=1200),
                _http("order", "POST", "/orders", timeout_ms=1000),
                _http("food", "POST", "/food-orders", p=0.4, critical=False, timeout_ms=600),
                Call("produce", "bookings"),
            )),
        ), version="4.1.0"),
        "payment": Service("payment", (
            Endpoint("POST", "/pay", 12.0, (
                _http("order", "GET", "/orders/{id}", timeout_ms=500),
                _mysql("INSERT INTO payments (order_id, account_id, amount) VALUES (?, ?, ?)"),
                _http("order", "POST", "/orders/{id}/status", timeout_ms=500),
            )),
            Endpoint("POST", "/refund", 10.0, (
                _mysql("INSERT INTO refunds (order_id, amount) VALUES (?, ?)"),)),
        ), version="2.3.1", pool_size=6),
        "cancel": Service("cancel", (
            Endpoint("POST", "/cancel", 5.0, (
                _http("order", "GET", "/orders/{id}", timeout_ms=500),
                _http("payment", "POST", "/refund", timeout_ms=2000),
                _http("order", "POST", "/orders/{id}/status", timeout_ms=500),
                _http("notification", "POST", "/notify", critical=False, timeout_ms=500),
            )),
        ), version="1.5.3"),
        "notification": Service("notification", (Endpoint("POST", "/notify", 6.0, (_cache("SET"),)),),
                                version="1.0.2", consumes="bookings", consume_ms=18.0, consume_linked=True),
    }
    entries = (("gateway", "GET /api/v1/trips", 0.5), ("gateway", "GET /api/v1/orders/{id}", 0.15),
               ("gateway", "POST /api/v1/bookings", 0.18), ("gateway", "POST /api/v1/payments", 0.1),
               ("gateway", "POST /api/v1/cancellations", 0.07))
    targets = {
        "latency": ("mysql", "order", "seat", "route", "pricing", "station", "payment"),
        "errors": ("order", "seat", "pricing", "route", "contacts", "payment", "security"),
        "cpu": ("order", "travel-search", "seat", "booking", "pricing"),
        "pool_exhaustion": ("order", "route", "payment", "contacts"),
        "bad_deploy": ("order", "booking", "travel-search", "seat", "payment", "auth", "pricing"),
        "retry_storm": ("order", "seat", "pricing", "station"),
        "queue_lag": ("notification", "food"),
        "network_delay": ("order", "seat", "auth", "pricing", "contacts"),
        "network_loss": ("order", "auth", "seat", "route", "payment"),
        "consumer_lag": ("notification", "food"),
        "timeout_amplification": ("order", "seat", "route", "payment", "security"),
        "pool_cascade": ("seat", "order", "contacts", "pricing"),
        "code_exception": ("order", "seat", "pricing", "contacts", "payment", "route"),
        "code_return": ("auth", "security", "contacts", "travel-search"),
    }
    resources = {**RESOURCES, "mysql": {"kind": "db", "db.system": "mysql", "server.port": 3306,
                                        "db.namespace": "ts"}}
    del resources["postgres"]
    return Topology("travel", s, entries, resources, targets,
                    batch=("order", "expire-unpaid-orders", 300,
                           "SELECT id, status FROM orders WHERE status = 0 AND created_at < ? ORDER BY id LIMIT 500"),
                    pool_victims={"seat": "travel-search", "order": "seat", "contacts": "booking",
                                  "pricing": "travel-search"},
                    database="mysql")


TOPOLOGIES: dict[str, Topology] = {"shop": _shop(), "agentic": _agentic(), "travel": _travel()}
# The corpora generated when no topology is named. The investigation was developed against these two;
# travel is a holdout, generated only on request (bench/corpus.py --topologies travel).
DEFAULT_TOPOLOGIES: tuple[str, ...] = ("shop", "agentic")
# The first ten make the default accuracy corpus (48 cases over seeds 0-2); the rest are interactions
# that live between spans or leave no span status (issue 17), generated on request.
CLASSIC_FAULTS: tuple[str, ...] = ("latency", "errors", "cpu", "pool_exhaustion", "bad_deploy", "retry_storm",
                                   "queue_lag", "agent_tool_loop", "llm_rate_limit", "llm_slow")
NEW_FAULTS: tuple[str, ...] = ("network_delay", "network_loss", "consumer_lag", "timeout_amplification", "pool_cascade",
                               "code_exception", "code_return")
FAULTS: tuple[str, ...] = CLASSIC_FAULTS + NEW_FAULTS


def get_topology(name: str) -> Topology:
    """The topology called `name`; ValueError listing valid names otherwise."""
    try:
        return TOPOLOGIES[name]
    except KeyError:
        raise ValueError(f"unknown topology {name!r}; valid: {', '.join(TOPOLOGIES)}") from None


def check_fault(topology: Topology, fault: str | None) -> None:
    """Raise ValueError if `fault` cannot be injected into `topology`."""
    if fault is not None and fault not in topology.targets:
        raise ValueError(f"fault {fault!r} does not apply to topology {topology.name!r}; "
                         f"valid: {', '.join(topology.targets)}")
