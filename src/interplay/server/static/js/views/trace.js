// One trace as a waterfall: span bars on a shared time axis, errors in red, self time per span,
// spans whose parent never arrived flagged; click a span for its attributes and events.
import * as api from "../api.js";
import {add, chip, clear, h, ms, num, time} from "../dom.js";

export async function renderTrace(root, [traceId]) {
  const trace = await api.get(`/api/traces/${encodeURIComponent(traceId)}`);
  const rows = [];
  const walk = (node, depth) => {
    rows.push({node, depth});
    node.children.slice().sort((a, b) => a.start_ns - b.start_ns).forEach((c) => walk(c, depth + 1));
  };
  trace.roots.forEach((r) => walk(r, 0));
  const t0 = Math.min(...rows.map((r) => r.node.start_ns));
  const t1 = Math.max(...rows.map((r) => r.node.end_ns));
  const total = Math.max(t1 - t0, 1);
  const errors = rows.filter((r) => r.node.status_code === "ERROR").length;
  const services = new Set(rows.map((r) => r.node.service));
  const orphans = rows.filter((r) => r.node.orphan).length;
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Trace ", h("code", {class: "trace-id"}, trace.trace_id)),
    h("p", {class: "sub"}, `${time(t0)} UTC · ${ms(total / 1e6)} · ${num(trace.spans)} spans · ${services.size} services`,
      errors ? [" · ", h("span", {class: "bad"}, `${errors} error span${errors > 1 ? "s" : ""}`)] : "",
      orphans ? [" · ", h("span", {class: "warn"}, `${orphans} span${orphans > 1 ? "s" : ""} whose parent never arrived`)] : "")));
  const detail = h("section", {class: "card span-detail", id: "span-detail"},
    h("p", {class: "muted"}, "Click a span to see its attributes and events."));
  const table = h("div", {class: "waterfall", role: "table", "aria-label": "Spans"},
    h("div", {class: "wf-row wf-head", role: "row"},
      h("div", {class: "wf-name", role: "columnheader"}, "service · operation"),
      h("div", {class: "wf-num", role: "columnheader"}, "duration"),
      h("div", {class: "wf-num", role: "columnheader"}, "self"),
      h("div", {class: "wf-bar", role: "columnheader"}, ticks(total))));
  for (const {node, depth} of rows) {
    const err = node.status_code === "ERROR";
    const left = ((node.start_ns - t0) / total) * 100;
    const width = Math.max((node.duration_ns / total) * 100, 0.15);
    const selfShare = node.duration_ns > 0 ? Math.min(node.self_ns / node.duration_ns, 1) : 1;
    const bar = h("div", {class: `bar${err ? " err" : ""}`, title: `${ms(node.duration_ns / 1e6)}, self ${ms(node.self_ns / 1e6)}`},
      h("div", {class: "self"}));
    const row = h("div", {class: `wf-row span-row${err ? " error" : ""}${node.orphan ? " orphan" : ""}`, role: "row",
      tabindex: 0, dataset: {span: node.span_id}},
    h("div", {class: "wf-name", role: "cell"},
      h("span", {class: "indent", dataset: {depth: String(depth)}}),
      err ? h("span", {class: "err-mark", title: "error"}, "✗") : null,
      h("span", {class: "svc"}, node.service), " ",
      h("span", {class: "opname"}, node.operation),
      node.orphan ? chip("parent missing", "warn") : null,
      err && node.status_message ? h("div", {class: "status-msg"}, node.status_message) : null),
    h("div", {class: "wf-num", role: "cell"}, ms(node.duration_ns / 1e6)),
    h("div", {class: "wf-num self-num", role: "cell"}, ms(node.self_ns / 1e6)),
    h("div", {class: "wf-bar", role: "cell"}, h("div", {class: "track"}, bar)));
    // geometry through the CSSOM: the page's CSP allows no inline style attributes
    row.querySelector(".indent").style.width = `${depth * 14}px`;
    bar.style.left = `${left}%`;
    bar.style.width = `${width}%`;
    bar.firstChild.style.width = `${selfShare * 100}%`;
    const open = () => {
      table.querySelectorAll(".span-row.selected").forEach((r) => r.classList.remove("selected"));
      row.classList.add("selected");
      showSpan(detail, node);
    };
    row.addEventListener("click", open);
    row.addEventListener("keydown", (ev) => ev.key === "Enter" && open());
    add(table, row);
  }
  add(root, h("section", {class: "card"}, h("div", {class: "wf-legend"},
    h("span", {}, h("i", {class: "lg lg-bar"}), "span"), h("span", {}, h("i", {class: "lg lg-self"}), "self time (share of the span not covered by children)"),
    h("span", {}, h("i", {class: "lg lg-errbar"}), "error")), table), detail);
  const first = rows.find((r) => r.node.status_code === "ERROR") || rows[0];
  if (first) showSpan(detail, first.node);
}

function ticks(total) {
  return h("div", {class: "ticks"}, [0, 0.25, 0.5, 0.75, 1].map((f) => h("span", {}, ms((total * f) / 1e6))));
}

function showSpan(detail, node) {
  const attrs = parseJson(node.attributes, {});
  const events = parseJson(node.events, []);
  add(clear(detail), h("h2", {}, node.service, " · ", node.operation),
    h("dl", {class: "facts"},
      h("dt", {}, "kind"), h("dd", {}, node.kind),
      h("dt", {}, "status"), h("dd", {class: node.status_code === "ERROR" ? "bad" : ""}, node.status_code,
        node.status_message ? `: ${node.status_message}` : ""),
      h("dt", {}, "start"), h("dd", {}, `${time(node.start_ns)} UTC`),
      h("dt", {}, "duration"), h("dd", {}, `${ms(node.duration_ns / 1e6)} (self ${ms(node.self_ns / 1e6)})`),
      h("dt", {}, "span id"), h("dd", {}, h("code", {}, node.span_id)),
      h("dt", {}, "parent"), h("dd", {}, node.parent_span_id ? h("code", {}, node.parent_span_id) : "none (root)",
        node.orphan ? " — never arrived" : ""),
      node.service_version ? [h("dt", {}, "version"), h("dd", {}, node.service_version)] : null),
    h("h3", {}, "Attributes"),
    Object.keys(attrs).length
      ? h("table", {class: "kv"}, h("tbody", {}, Object.entries(attrs).map(([k, v]) =>
        h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "string" ? v : JSON.stringify(v))))))
      : h("p", {class: "muted"}, "none"),
    events.length ? [h("h3", {}, "Events"), h("ul", {class: "plain"}, events.map((e) => h("li", {},
      h("strong", {}, e.name || "event"), " ", h("span", {class: "muted"}, JSON.stringify(e.attributes || {})))))] : null);
}

function parseJson(value, fallback) {
  if (value && typeof value === "object") return value;
  try {
    return value ? JSON.parse(value) : fallback;
  } catch {
    return {raw: String(value)};
  }
}
