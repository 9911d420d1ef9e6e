// The service map view: the interaction graph of the chosen range, anomalous nodes marked.
import * as api from "../api.js";
import {add, chip, clear, h, ms, notice, num, pct, rate, time} from "../dom.js";
import {MIN_SCALE, drawGraph, drawnKind} from "../graph.js";
import * as range from "../range.js";

export async function renderMap(root) {
  const win = range.params();
  const graph = await api.get("/api/graph", win);
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Service map"),
    h("p", {class: "sub"}, `Who calls whom · ${range.label()}`)));
  if (!graph.nodes.length) {
    add(root, await emptyState());
    return;
  }
  const anomalies = await findAnomalies(win);
  const panel = h("aside", {class: "side"});
  const canvas = h("div", {class: "map-canvas"});
  const draw = (selected) => {
    add(clear(canvas), drawGraph(graph, {anomalies, selected, onSelect: (id) => {
      draw(id);
      showNode(panel, graph, id, anomalies);
      // under a full-width map the panel is below: bring the node's callers and callees into sight
      if (panel.parentElement?.classList.contains("wide")) panel.scrollIntoView({block: "nearest", behavior: "smooth"});
    }}));
  };
  draw(null);
  showSummary(panel, graph, anomalies);
  const layout = h("div", {class: "map-layout"}, h("section", {class: "card map-card"}, legend(), canvas), panel);
  add(root, layout);
  // a map too wide to read beside the panel takes the page's width, the panel goes under it: decided once
  // the page is on screen (views are built detached, where nothing has a width yet)
  const svg = canvas.querySelector("svg.graph");
  let frames = 0;
  const fit = () => {
    if (!svg || ++frames > 120) return;
    if (!canvas.isConnected || !canvas.clientWidth) return requestAnimationFrame(fit);
    layout.classList.toggle("wide", Number(svg.getAttribute("width")) * MIN_SCALE > canvas.clientWidth);
  };
  requestAnimationFrame(fit);
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

/** Services whose latest quarter of the range shifted from its first half, judged on the server by the
 * statistics investigations use (two-proportion z for errors, robust z for p95), each with its reason. */
async function findAnomalies(win) {
  const found = await api.get("/api/anomalies", win);
  return new Map(Object.entries(found.services || {}).map(([id, a]) => [id, a.reason]));
}

function legend() {
  return h("div", {class: "legend"},
    h("span", {}, h("i", {class: "lg lg-node"}), "service"),
    h("span", {}, h("i", {class: "lg lg-res"}), "resources, each in its shape: DB, CACHE, QUEUE, LLM, EXT"),
    h("span", {title: "The latest quarter of the range against its first half: error rate by a two-proportion z test, " +
      "p95 latency by a robust z over the first half's buckets, flagged at z ≥ 3 (as investigations judge shifts). Hover a flagged node for its numbers."},
    h("i", {class: "lg lg-anom"}), "anomalous now (hover for why)"),
    h("span", {}, h("i", {class: "lg lg-err"}), "≥ 5% errors"),
    h("span", {class: "hint"}, "edge labels: rate · p95 · errors (hover an edge for all its numbers)"));
}

function showSummary(panel, graph, anomalies) {
  add(clear(panel), h("h2", {}, "Overview"),
    h("dl", {class: "facts"},
      h("dt", {}, "services"), h("dd", {}, String(graph.nodes.filter((n) => drawnKind(n) === "service").length)),
      h("dt", {}, "resources"), h("dd", {}, String(graph.nodes.filter((n) => drawnKind(n) !== "service").length)),
      h("dt", {}, "interactions"), h("dd", {}, String(graph.edges.length))),
    h("h3", {}, anomalies.size ? "Anomalous now" : "Nothing anomalous"),
    anomalies.size
      ? h("ul", {class: "plain"}, [...anomalies].map(([id, why]) => h("li", {}, chip("!", "bad"), " ",
        h("strong", {}, id), h("div", {class: "muted"}, why))))
      : h("p", {class: "muted"}, "No service's errors or p95 latency shifted significantly in the latest quarter of the range."),
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
    h("h2", {}, id), h("p", {}, chip(drawnKind(node)), anomalies.has(id) ? chip(anomalies.get(id), "bad") : null),
    node.operations?.length ? h("p", {class: "actions"},
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
