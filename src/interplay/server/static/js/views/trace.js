// One trace as a waterfall: span bars on a shared time axis, errors in red, self time per span,
// spans whose parent never arrived flagged. Subtrees fold (big traces start folded below a depth,
// runs of repeated sibling calls fold into one "×N" row); search and a critical-path-only view
// narrow it. Click a span for its attributes, resource, scope, events, links and logs.
import * as api from "../api.js";
import {add, chip, clear, h, ms, num, time} from "../dom.js";
import {logList} from "./logs.js";

const VISIBLE_BUDGET = 150;   // rows shown at first on a big trace (about 4,500 px)
const RUN_MIN = 5;            // this many same-named siblings in a row fold into one group row
const CHILD_PAGE = 100;       // children of one span shown before the rest fold into pages of this many

export async function renderTrace(root, [traceId]) {
  const [trace, logs] = await Promise.all([
    api.get(`/api/traces/${encodeURIComponent(traceId)}`),
    api.get("/api/logs", {trace_id: traceId, limit: 1000}).catch(() => [])]);
  const model = buildModel(trace);
  const {rows, t0, total} = model;
  const errors = rows.filter((r) => r.error && !r.group).length;
  const services = new Set(rows.filter((r) => !r.group).map((r) => r.node.service));
  const orphans = rows.filter((r) => r.node?.orphan).length;
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Trace ", h("code", {class: "trace-id"}, trace.trace_id)),
    h("p", {class: "sub"}, `${time(t0)} UTC · ${ms(total / 1e6)} · ${num(trace.spans)} spans · ${services.size} services`,
      errors ? [" · ", h("span", {class: "bad"}, `${errors} error span${errors > 1 ? "s" : ""}`)] : "",
      orphans ? [" · ", h("span", {class: "warn"}, `${orphans} span${orphans > 1 ? "s" : ""} whose parent never arrived`)] : "",
      " · ", logs.length ? h("a", {href: `#/logs?trace_id=${encodeURIComponent(trace.trace_id)}`, id: "trace-logs-link"},
        `${num(logs.length)} log record${logs.length > 1 ? "s" : ""}`) : "no log records")));
  const detail = h("section", {class: "card span-detail", id: "span-detail"},
    h("p", {class: "muted"}, "Click a span to see its attributes and events."));
  const state = {collapsed: initialFolds(model), query: "", critical: false, selected: null};
  const body = h("div", {class: "wf-body"});
  const status = h("span", {class: "muted", id: "wf-status"});
  const open = (row) => {
    state.selected = row.node.span_id;
    body.querySelectorAll(".span-row.selected").forEach((r) => r.classList.remove("selected"));
    body.querySelector(`.span-row[data-span="${CSS.escape(row.node.span_id)}"]`)?.classList.add("selected");
    showSpan(detail, row.node, t0, logs.filter((l) => l.span_id === row.node.span_id));
  };
  const draw = () => drawRows(body, status, model, state, {open, toggle: (row) => {
    state.collapsed.has(row.key) ? state.collapsed.delete(row.key) : state.collapsed.add(row.key);
    draw();
  }});
  const search = h("input", {type: "search", id: "trace-search", placeholder: "find spans: service, operation, attribute…",
    "aria-label": "Find spans in this trace"});
  search.addEventListener("input", () => {
    state.query = search.value.trim().toLowerCase();
    draw();
  });
  const critical = h("input", {type: "checkbox", id: "critical-only"});
  critical.addEventListener("change", () => {
    state.critical = critical.checked;
    draw();
  });
  const button = (id, label, fn) => h("button", {type: "button", id, onclick: () => { fn(); draw(); }}, label);
  const tools = h("div", {class: "filters wf-tools"}, search,
    h("label", {class: "check", title: "At each level, the child that finished last: what the trace's duration waited on"},
      critical, " critical path only"),
    button("expand-all", "Expand all", () => state.collapsed.clear()),
    button("collapse-all", "Collapse all", () => {
      state.collapsed = new Set(rows.filter((r) => r.kids.length && r.depth >= 1).map((r) => r.key));
    }), status);
  const table = h("div", {class: "waterfall", role: "table", "aria-label": "Spans"},
    h("div", {class: "wf-row wf-head", role: "row"},
      h("div", {class: "wf-name", role: "columnheader"}, "service · operation"),
      h("div", {class: "wf-num", role: "columnheader"}, "duration"),
      h("div", {class: "wf-num", role: "columnheader"}, "self"),
      h("div", {class: "wf-bar", role: "columnheader"}, ticks(total))), body);
  add(root, h("div", {class: "trace-layout"}, h("section", {class: "card"}, tools, h("div", {class: "wf-legend"},
    h("span", {}, h("i", {class: "lg lg-bar"}), "span"), h("span", {}, h("i", {class: "lg lg-self"}), "self time (share of the span not covered by children)"),
    h("span", {}, h("i", {class: "lg lg-errbar"}), "error"), h("span", {}, "▸ / ▾ fold a subtree · ×N: repeated calls folded")), table), detail));
  draw();
  const first = rows.find((r) => r.error && !r.group) || rows[0];
  if (first) open(first);
}

/** Rows in tree order: spans, and group rows for runs of same-named siblings; with depth, parent, kids.
 * A span with more than CHILD_PAGE children (after runs fold) shows the first CHILD_PAGE, the rest in
 * folded pages of CHILD_PAGE calls each, so a 10,000-span fan-out opens as a few hundred rows. */
function buildModel(trace) {
  const rows = [];
  let t0 = Infinity, t1 = -Infinity;
  const groupRow = (key, items, depth, parent, extra) => {
    const group = {key, group: true, items, depth, parent, kids: [], ...extra,
      node: {service: items[0].service, operation: items[0].operation,
        start_ns: Math.min(...items.map((c) => c.start_ns)), end_ns: Math.max(...items.map((c) => c.end_ns))},
      error: items.some((c) => c.status_code === "ERROR")};
    rows.push(group);
    parent.kids.push(group);
    return group;
  };
  const walk = (node, depth, parent) => {
    t0 = Math.min(t0, node.start_ns);
    t1 = Math.max(t1, node.end_ns);
    const row = {key: node.span_id, node, depth, parent, kids: [], error: node.status_code === "ERROR"};
    rows.push(row);
    if (parent) parent.kids.push(row);
    const children = node.children.slice().sort((a, b) => a.start_ns - b.start_ns);
    const units = [];  // a child alone, or a run of same-named siblings
    for (let i = 0; i < children.length;) {
      let j = i + 1;
      while (j < children.length && sameCall(children[i], children[j])) j++;
      if (j - i >= RUN_MIN) units.push(children.slice(i, j));
      else children.slice(i, j).forEach((c) => units.push([c]));
      i = j;
    }
    const place = (unit, d, under) => {
      if (unit.length === 1) return walk(unit[0], d, under);
      const group = groupRow(`${under.key}/${unit[0].span_id}`, unit, d, under, {});
      unit.forEach((c) => walk(c, d + 1, group));
    };
    units.slice(0, CHILD_PAGE).forEach((u) => place(u, depth + 1, row));
    for (let k = CHILD_PAGE; k < units.length; k += CHILD_PAGE) {
      const page = units.slice(k, k + CHILD_PAGE);
      const chunk = groupRow(`${node.span_id}/page${k}`, page.flat(), depth + 1, row,
        {chunk: true, from: k + 1, to: k + page.length, ops: [...new Set(page.flat().map((c) => c.operation))]});
      page.forEach((u) => place(u, depth + 2, chunk));
    }
  };
  trace.roots.forEach((r) => walk(r, 0, null));
  markCritical(rows);
  return {rows, t0, total: Math.max(t1 - t0, 1), spans: rows.filter((r) => !r.group).length};
}

function sameCall(a, b) {
  return a.service === b.service && a.operation === b.operation;
}

/** At each level from the roots down, the child (or group member) that finished last. */
function markCritical(rows) {
  const spansOf = (k) => (k.group ? k.kids.flatMap(spansOf) : [k]);
  const visit = (row) => {
    row.critical = true;
    const spans = row.kids.flatMap(spansOf);
    if (!spans.length) return;
    const last = spans.reduce((a, b) => (b.node.end_ns > a.node.end_ns ? b : a));
    for (let p = last.parent; p && p.group; p = p.parent) p.critical = true;
    visit(last);
  };
  rows.filter((r) => !r.parent).forEach(visit);
}

/** Folded at first: every group, and on a big trace the subtrees below the depth that fits the budget
 * (error spans and their ancestors stay open). */
function initialFolds(model) {
  const folded = new Set(model.rows.filter((r) => r.group).map((r) => r.key));
  const shown = (maxDepth) => model.rows.filter((r) => r.depth <= maxDepth && !hiddenByGroup(r)).length;
  const hiddenByGroup = (r) => {
    for (let p = r.parent; p; p = p.parent) if (p.group) return true;
    return false;
  };
  let depth = Math.max(...model.rows.map((r) => r.depth));
  while (depth > 0 && shown(depth) > VISIBLE_BUDGET) depth--;
  // a page of calls sits one level deeper than the calls shown before it: fold its rows as theirs
  const level = (r) => {
    let n = r.depth;
    for (let p = r.parent; p; p = p.parent) if (p.chunk) n--;
    return n;
  };
  model.rows.filter((r) => r.kids.length && !r.group && level(r) === depth).forEach((r) => folded.add(r.key));
  for (const err of model.rows.filter((r) => r.error && !r.group).slice(0, 3)) {
    for (let p = err.parent; p; p = p.parent) if (!p.group || p.chunk) folded.delete(p.key);
  }
  return folded;
}

function visibleRows(model, state) {
  const {rows} = model;
  if (state.query || state.critical) {
    const hit = (r) => (!state.critical || r.critical) && (!state.query || matches(r, state.query));
    const keep = new Set();
    for (const r of rows) {
      if (!hit(r)) continue;
      for (let p = r; p && !keep.has(p); p = p.parent) keep.add(p);
    }
    return rows.filter((r) => keep.has(r)).map((r) => ({row: r, match: hit(r)}));
  }
  const out = [];
  const hidden = new Set();
  for (const r of rows) {
    if (r.parent && (hidden.has(r.parent) || state.collapsed.has(r.parent.key))) {
      hidden.add(r);
      continue;
    }
    out.push({row: r, match: false});
  }
  return out;
}

function matches(row, q) {
  if (row.group) return false;
  const n = row.node;
  return `${n.service} ${n.operation} ${n.span_id} ${n.status_message || ""} ${n.attributes || ""}`.toLowerCase().includes(q);
}

function drawRows(body, status, model, state, {open, toggle}) {
  const shown = visibleRows(model, state);
  const frag = document.createDocumentFragment();
  for (const {row, match} of shown) frag.append(spanRow(row, model, state, match, open, toggle));
  clear(body).append(frag);
  const matchesN = shown.filter((x) => x.match && !x.row.group).length;
  const spans = shown.filter((x) => !x.row.group).length;
  status.textContent = state.query ? `${num(matchesN)} matching span${matchesN === 1 ? "" : "s"}`
    : state.critical ? `${num(matchesN)} spans on the critical path`
      : `${num(spans)} of ${num(model.spans)} spans shown`;
}

function spanRow(row, model, state, match, open, toggle) {
  const {node, depth} = row;
  const err = row.error;
  const left = ((node.start_ns - model.t0) / model.total) * 100;
  const duration = node.end_ns - node.start_ns;
  const width = Math.max((duration / model.total) * 100, 0.15);
  const folded = state.collapsed.has(row.key) && !state.query && !state.critical;
  const fold = row.kids.length
    ? h("button", {type: "button", class: "fold", "aria-expanded": String(!folded),
      title: folded ? `show ${num(countBelow(row))} spans below` : "fold this subtree",
      onclick: (ev) => { ev.stopPropagation(); toggle(row); }}, folded ? "▸" : "▾")
    : h("span", {class: "fold-space"});
  const bar = h("div", {class: `bar${err ? " err" : ""}${row.group ? " group" : ""}`}, h("div", {class: "self"}));
  const cls = `wf-row ${row.group ? "group-row" : "span-row"}${err ? " error" : ""}${node.orphan ? " orphan" : ""}` +
    `${match ? " match" : ""}${row.critical ? " critical" : ""}${state.selected === node.span_id ? " selected" : ""}`;
  const name = row.chunk
    ? [h("span", {class: "opname"}, `calls ${num(row.from)}–${num(row.to)}: `),
      h("span", {class: "svc"}, [...new Set(row.items.map((c) => c.service))].slice(0, 3).join(", ")), " ",
      h("span", {class: "opname"}, row.ops.slice(0, 3).join(", ") + (row.ops.length > 3 ? ", …" : "")), " ",
      h("b", {class: "times"}, `×${num(row.items.length)}`),
      err ? chip(`${row.items.filter((c) => c.status_code === "ERROR").length} errors`, "bad") : null]
    : row.group
    ? [h("span", {class: "svc"}, node.service), " ", h("span", {class: "opname"}, node.operation), " ",
      h("b", {class: "times"}, `×${num(row.items.length)}`),
      err ? chip(`${row.items.filter((c) => c.status_code === "ERROR").length} errors`, "bad") : null]
    : [err ? h("span", {class: "err-mark", title: "error"}, "✗") : null,
      h("span", {class: "svc"}, node.service), " ", h("span", {class: "opname"}, node.operation),
      node.orphan ? chip("parent missing", "warn") : null,
      folded ? h("span", {class: "muted small"}, ` +${num(countBelow(row))}`) : null,
      err && node.status_message ? h("div", {class: "status-msg"}, node.status_message) : null];
  const el = h("div", {class: cls, role: "row", tabindex: 0, dataset: row.group ? {group: row.key} : {span: node.span_id}},
    h("div", {class: "wf-name", role: "cell"}, h("span", {class: "indent"}), fold, name),
    h("div", {class: "wf-num", role: "cell"}, ms(duration / 1e6)),
    h("div", {class: "wf-num self-num", role: "cell"}, row.group ? "" : ms(node.self_ns / 1e6)),
    h("div", {class: "wf-bar", role: "cell", title: row.group ? `${row.items.length} calls` : `${ms(duration / 1e6)}, self ${ms(node.self_ns / 1e6)}`},
      h("div", {class: "track"}, bar)));
  // geometry through the CSSOM: the page's CSP allows no inline style attributes
  el.querySelector(".indent").style.width = `${depth * 14}px`;
  bar.style.left = `${left}%`;
  bar.style.width = `${width}%`;
  bar.firstChild.style.width = row.group ? "0" : `${(duration > 0 ? Math.min(node.self_ns / duration, 1) : 1) * 100}%`;
  const act = () => (row.group ? toggle(row) : open(row));
  el.addEventListener("click", act);
  el.addEventListener("keydown", (ev) => ev.key === "Enter" && act());
  return el;
}

function countBelow(row) {
  return row.kids.reduce((n, k) => n + (k.group ? 0 : 1) + countBelow(k), 0);
}

function ticks(total) {
  return h("div", {class: "ticks"}, [0, 0.25, 0.5, 0.75, 1].map((f) => h("span", {}, ms((total * f) / 1e6))));
}

function showSpan(detail, node, t0, logs) {
  const attrs = parseJson(node.attributes, {});
  const resource = parseJson(node.resource_attributes, {});
  const events = parseJson(node.events, []);
  const links = parseJson(node.links, []);
  const linkList = h("ul", {class: "plain links"});
  add(clear(detail), h("h2", {}, node.service, " · ", node.operation),
    h("dl", {class: "facts"},
      h("dt", {}, "kind"), h("dd", {}, node.kind),
      h("dt", {}, "status"), h("dd", {class: node.status_code === "ERROR" ? "bad" : ""}, node.status_code,
        node.status_message ? `: ${node.status_message}` : ""),
      h("dt", {}, "start"), h("dd", {}, `${time(node.start_ns)} UTC (+${ms((node.start_ns - t0) / 1e6)})`),
      h("dt", {}, "duration"), h("dd", {}, `${ms(node.duration_ns / 1e6)} (self ${ms(node.self_ns / 1e6)})`),
      h("dt", {}, "span id"), h("dd", {}, h("code", {}, node.span_id)),
      h("dt", {}, "parent"), h("dd", {}, node.parent_span_id ? h("code", {}, node.parent_span_id) : "none (root)",
        node.orphan ? " — never arrived" : ""),
      node.service_version ? [h("dt", {}, "version"), h("dd", {}, node.service_version)] : null,
      node.scope_name ? [h("dt", {}, "scope"), h("dd", {}, h("code", {}, node.scope_name),
        node.scope_version ? ` ${node.scope_version}` : "")] : null),
    h("h3", {}, "Attributes"), kvTable(attrs, "span-attributes"),
    events.length ? [h("h3", {}, `Events (${events.length})`), h("ul", {class: "plain events", id: "span-events"},
      events.map((e) => h("li", {},
        h("strong", {class: "event-name"}, e.name || "(unnamed event)"),
        e.time_ns ? h("span", {class: "muted"}, ` +${ms((e.time_ns - node.start_ns) / 1e6)}`) : null,
        Object.keys(e.attributes || {}).length ? kvTable(e.attributes) : null)))] : null,
    links.length ? [h("h3", {}, `Links (${links.length})`), linkList] : null,
    h("h3", {}, `Logs of this span (${logs.length})`),
    logs.length ? logList(logs.slice().reverse()) : h("p", {class: "muted"}, "none"),
    h("h3", {}, "Resource"), kvTable(resource, "span-resource"));
  for (const link of links) {
    const li = h("li", {}, h("code", {}, `${link.trace_id}`), " span ", h("code", {}, link.span_id || "?"));
    linkList.append(li);
    // clickable when the linked trace is stored here
    api.get(`/api/traces/${encodeURIComponent(link.trace_id)}`)
      .then(() => li.replaceChildren(h("a", {href: `#/trace/${encodeURIComponent(link.trace_id)}`, class: "trace-link"},
        h("code", {}, link.trace_id)), " span ", h("code", {}, link.span_id || "?")))
      .catch(() => li.append(h("span", {class: "muted"}, " (not stored here)")));
  }
}

function kvTable(obj, id) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h("p", {class: "muted"}, "none");
  return h("table", {class: "kv", id}, h("tbody", {}, entries.map(([k, v]) =>
    h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "string" ? v : JSON.stringify(v))))));
}

function parseJson(value, fallback) {
  if (value && typeof value === "object") return value;
  try {
    return value ? JSON.parse(value) : fallback;
  } catch {
    return {raw: String(value)};
  }
}
