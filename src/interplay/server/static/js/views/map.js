// The service map view: the interaction graph of the chosen range, anomalous nodes marked.
import * as api from "../api.js";
import {add, chip, clear, h, ms, notice, num, pct, rate, time} from "../dom.js";
import {drawGraph, nodeMetrics} from "../graph.js";
import * as range from "../range.js";

export async function renderMap(root) {
  const win = range.params();
  const [graph, services] = await Promise.all([api.get("/api/graph", win), api.get("/api/services", win)]);
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Service map"),
    h("p", {class: "sub"}, `Who calls whom · ${range.label()}`)));
  if (!graph.nodes.length) {
    add(root, await emptyState());
    return;
  }
  const anomalies = await findAnomalies(graph, services, win);
  const panel = h("aside", {class: "side"});
  const canvas = h("div", {class: "map-canvas"});
  const draw = (selected) => {
    add(clear(canvas), drawGraph(graph, {anomalies, selected, onSelect: (id) => {
      draw(id);
      showNode(panel, graph, id, anomalies);
    }}));
  };
  draw(null);
  showSummary(panel, graph, anomalies);
  add(root, h("div", {class: "map-layout"}, h("section", {class: "card map-card"}, legend(), canvas), panel));
}

/** With no data in the range: say how to send some, or where the data is. */
export async function emptyState() {
  const all = range.isAll() ? [] : await api.get("/api/services");
  if (all.length) {
    const newest = all.map((s) => s.last_seen).sort().pop();
    return notice("empty", "No telemetry in this time range",
      `The newest data is from ${time(newest)} UTC. `,
      h("button", {type: "button", class: "link", onclick: () => range.setRange({preset: "all"})}, "Show all data"));
  }
  return notice("empty", `no telemetry yet: point OTLP at ${location.origin}`,
    h("p", {}, "Send OpenTelemetry traces to ", h("code", {}, `${location.origin}/v1/traces`),
      " (OTLP/HTTP) or gRPC port 4317, for example:"),
    h("pre", {}, `export OTEL_EXPORTER_OTLP_ENDPOINT=${location.origin}\nexport OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`),
    h("p", {}, "or load a file: ", h("code", {}, "interplay ingest traces.jsonl"),
      " · try a simulated incident: ", h("code", {}, "interplay demo")));
}

/**
 * Nodes whose latest quarter of the range looks worse than its first half (error rate up, or
 * median or p95 latency doubled). Needs a bounded range: "all" uses the data's own bounds.
 */
async function findAnomalies(graph, services, win) {
  const out = new Map();
  let lo = Date.parse(win.since), hi = Date.parse(win.until);
  if (Number.isNaN(lo)) lo = Math.min(...services.map((s) => Date.parse(s.first_seen)));
  if (Number.isNaN(hi)) hi = Math.max(...services.map((s) => Date.parse(s.last_seen)));
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi - lo < 60000) return out;
  const iso = (t) => new Date(t).toISOString();
  const [before, recent] = await Promise.all([
    api.get("/api/graph", {since: iso(lo), until: iso(lo + (hi - lo) / 2)}),
    api.get("/api/graph", {since: iso(lo + (hi - lo) * 0.75), until: iso(hi + 1)})]);
  const b = nodeMetrics(before, "window"), r = nodeMetrics(recent, "window");
  const doubled = (x, y) => x && y && y >= 2 * x && y - x >= 20;
  for (const n of graph.nodes) {
    const x = b.get(n.id), y = r.get(n.id);
    if (!x || !y || y.requests < 5) continue;
    if (y.error_rate >= 0.05 && y.error_rate >= 2 * x.error_rate) {
      out.set(n.id, `errors ${pct(x.error_rate)} → ${pct(y.error_rate)}`);
    } else if (doubled(x.p50_ms, y.p50_ms)) {
      out.set(n.id, `median latency ${ms(x.p50_ms)} → ${ms(y.p50_ms)}`);
    } else if (doubled(x.p95_ms, y.p95_ms)) {
      out.set(n.id, `p95 ${ms(x.p95_ms)} → ${ms(y.p95_ms)}`);
    }
  }
  return out;
}

function legend() {
  return h("div", {class: "legend"},
    h("span", {}, h("i", {class: "lg lg-node"}), "service"),
    h("span", {}, h("i", {class: "lg lg-res"}), "database, cache, queue, LLM, external"),
    h("span", {}, h("i", {class: "lg lg-anom"}), "anomalous (latest quarter of the range vs its first half)"),
    h("span", {}, h("i", {class: "lg lg-err"}), "≥ 5% errors"),
    h("span", {class: "hint"}, "edge labels: rate · p95 · errors"));
}

function showSummary(panel, graph, anomalies) {
  add(clear(panel), h("h2", {}, "Overview"),
    h("dl", {class: "facts"},
      h("dt", {}, "services"), h("dd", {}, String(graph.nodes.filter((n) => n.kind === "service").length)),
      h("dt", {}, "resources"), h("dd", {}, String(graph.nodes.filter((n) => n.kind !== "service").length)),
      h("dt", {}, "interactions"), h("dd", {}, String(graph.edges.length))),
    h("h3", {}, anomalies.size ? "Anomalous now" : "Nothing anomalous"),
    anomalies.size
      ? h("ul", {class: "plain"}, [...anomalies].map(([id, why]) => h("li", {}, chip("!", "bad"), " ",
        h("strong", {}, id), h("div", {class: "muted"}, why))))
      : h("p", {class: "muted"}, "No node's errors or latency moved in the latest quarter of the range."),
    anomalies.size ? h("a", {class: "button primary", href: "#/investigate"}, "Investigate") : null,
    h("p", {class: "muted hint"}, "Click a node for its operations."));
}

function showNode(panel, graph, id, anomalies) {
  const node = graph.nodes.find((n) => n.id === id);
  const callers = graph.edges.filter((e) => e.callee === id);
  const callees = graph.edges.filter((e) => e.caller === id);
  const ops = (node.operations || []).slice().sort((a, b) => (b.stats.window?.calls ?? 0) - (a.stats.window?.calls ?? 0));
  add(clear(panel), 
    h("button", {type: "button", class: "link back", onclick: () => showSummary(panel, graph, anomalies)}, "← overview"),
    h("h2", {}, id), h("p", {}, chip(node.kind), anomalies.has(id) ? chip(anomalies.get(id), "bad") : null),
    node.kind === "service" ? h("p", {class: "actions"},
      h("a", {class: "button", href: `#/service/${encodeURIComponent(id)}`, id: "node-service-page"}, "Over time"),
      h("a", {class: "button", href: `#/traces?service=${encodeURIComponent(id)}`}, "Traces"),
      h("a", {class: "button", href: `#/investigate?symptom=${encodeURIComponent(id)}`}, "Investigate")) : null,
    ops.length ? h("table", {class: "mini"},
      h("thead", {}, h("tr", {}, h("th", {}, "operation"), h("th", {class: "n"}, "rate"), h("th", {class: "n"}, "err"),
        h("th", {class: "n"}, "p95"))),
      h("tbody", {}, ops.map((o) => h("tr", {},
        h("td", {title: `${o.kind}${o.entry ? ", entry point" : ""}`}, o.operation),
        h("td", {class: "n"}, rate(o.stats.window?.rate)),
        h("td", {class: `n ${(o.stats.window?.error_rate ?? 0) >= 0.05 ? "bad" : ""}`}, pct(o.stats.window?.error_rate)),
        h("td", {class: "n"}, ms(o.stats.window?.p95_ms)))))) : null,
    edgeList("Called by", callers, "caller"), edgeList("Calls", callees, "callee"));
}

function edgeList(title, edges, side) {
  if (!edges.length) return null;
  return [h("h3", {}, title), h("ul", {class: "plain"}, edges.map((e) => {
    const st = e.stats.window || {};
    return h("li", {}, h("strong", {}, e[side]), ` ${e.mode}`,
      h("div", {class: "muted"}, `${num(st.calls)} calls · ${rate(st.rate)} · ${pct(st.error_rate)} err · p95 ${ms(st.p95_ms)}`));
  }))];
}
