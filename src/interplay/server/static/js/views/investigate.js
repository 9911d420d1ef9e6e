// Investigations: a form to start one, and the result — ranked causes, the causal chain on the map,
// evidence with exemplar traces, and the symptom's charts with change events on the timeline.
import * as api from "../api.js";
import {lineChart} from "../charts.js";
import {add, chip, clear, h, ms, notice, pct, plural, spinner, time, toDate} from "../dom.js";
import {drawGraph} from "../graph.js";
import * as range from "../range.js";
import {emptyState} from "./map.js";

export async function renderInvestigate(root, _args, query) {
  const services = await api.get("/api/services", range.params());
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Investigate"),
    h("p", {class: "sub"}, "Find the root cause of a symptom: which service or resource made it happen, and how.")));
  if (!services.length) {
    add(root, await emptyState());
    return;
  }
  add(root, form(services, query.get("symptom") || "", query.get("at") || ""));
  add(root, await recent());
}

/** Investigations the server kept (alerts start them too); nothing if this server keeps none. */
async function recent() {
  let rows = [];
  try {
    rows = (await api.get("/api/investigations", {limit: 20})).investigations || [];
  } catch {
    return null;
  }
  if (!rows.length) return null;
  return h("section", {class: "card"}, h("h2", {}, "Recent investigations"), h("table", {class: "data", id: "recent-table"},
    h("thead", {}, h("tr", {}, ["started (UTC)", "service", "source", "status", "most likely cause"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {},
      h("td", {class: "nowrap"}, h("a", {href: `#/investigation/${encodeURIComponent(r.id)}`}, time(r.started || r.created))),
      h("td", {}, r.service || "–"), h("td", {}, r.source || ""),
      h("td", {}, chip(r.status || "", r.status === "resolved" ? "ok" : r.status === "firing" ? "bad" : "")),
      h("td", {}, r.top_cause ? [h("strong", {}, r.top_cause.service), " ", r.top_cause.summary] : r.summary || ""))))));
}

/** An investigation by id: a fresh one kept in memory, else a kept record (e.g. from an alert). */
async function loadInvestigation(id) {
  try {
    return await api.get(`/api/investigations/${encodeURIComponent(id)}`);
  } catch (err) {
    if (err.status !== 404) throw err;
    const rec = await api.get("/api/investigations", {id}).catch(() => null);
    if (rec && rec.result && rec.result.windows) return {id, ...rec.result};
    if (rec && rec.status) throw new api.ApiError(404, `investigation ${id}: ${rec.summary || rec.status} (no result yet)`);
    throw err;
  }
}

function form(services, symptom, at) {
  const symptomInput = h("input", {id: "symptom", name: "symptom", list: "symptom-options", value: symptom,
    placeholder: "e.g. frontend or frontend:POST /cart — empty: find it", autocomplete: "off"});
  const atInput = h("input", {id: "at", name: "at", value: at, placeholder: "e.g. 2026-01-01 01:12 — empty: detect the onset"});
  const status = h("div", {class: "form-status", "aria-live": "polite"});
  const button = h("button", {type: "submit", class: "primary", id: "run-investigation"}, "Investigate");
  const el = h("form", {class: "card investigate-form", id: "investigate-form"},
    h("div", {class: "field"}, h("label", {for: "symptom"}, "Symptom"), symptomInput,
      h("datalist", {id: "symptom-options"}, services.map((s) => h("option", {value: s.service})))),
    h("div", {class: "field"}, h("label", {for: "at"}, "Around (UTC, optional)"), atInput),
    h("div", {class: "field narrow"}, h("label", {}, "Within"), h("div", {class: "static"}, range.label())),
    h("div", {class: "field submit"}, button), status);
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    add(clear(status), spinner("Investigating… comparing the incident with the baseline"));
    const body = {symptom: symptomInput.value.trim() || null, ...range.params()};
    if (atInput.value.trim()) body.at = toIso(atInput.value.trim());
    try {
      const result = await api.post("/api/investigations", body);
      location.hash = `#/investigation/${encodeURIComponent(result.id)}`;
    } catch (err) {
      add(clear(status), notice("error", "The investigation failed", err.message));
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

function toIso(text) {
  if (/^-|ago$|^now$|^\d+(\.\d+)?$/.test(text)) return text;
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text.replace(" ", "T")}Z`);
  return Number.isNaN(d.getTime()) ? text : d.toISOString();
}

export async function renderInvestigation(root, [id]) {
  const inv = await loadInvestigation(id);
  const incident = inv.windows.incident, baseline = inv.windows.baseline;
  const [graph, changes] = await Promise.all([
    api.get("/api/graph", {since: incident.since, until: incident.until}),
    api.get("/api/changes", {since: baseline.since, until: incident.until})]);
  const causes = inv.root_causes || [];
  add(root, header(inv));
  if (!causes.length) {
    add(root, notice("empty", "No root cause found", "Nothing in the data explains a change between the baseline and the incident window."));
  }
  const detail = h("div", {class: "cause-detail"});
  const list = h("ol", {class: "causes", id: "causes"});
  const select = (cause) => {
    list.querySelectorAll("li").forEach((li) => li.classList.toggle("selected", li.dataset.rank === String(cause.rank)));
    add(clear(detail), ...causeDetail(inv, cause, graph));
  };
  for (const cause of causes) {
    add(list, h("li", {class: "cause", dataset: {rank: String(cause.rank)}, tabindex: 0,
      onclick: () => select(cause), onkeydown: (ev) => ev.key === "Enter" && select(cause)},
    h("div", {class: "cause-head"}, h("span", {class: "rank"}, `#${cause.rank}`),
      h("span", {class: "cause-name"}, cause.service), cause.operation ? h("span", {class: "op"}, cause.operation) : null,
      chip(cause.kind)),
    h("div", {class: "score"}, h("div", {class: "bar", style: null, dataset: {w: scoreWidth(cause, causes)}}),
      h("span", {}, `explains ${pct(Math.max(cause.explains?.errors ?? 0, cause.explains?.latency ?? 0, cause.explains?.load ?? 0))}`)),
    h("p", {class: "cause-summary"}, cause.summary)));
  }
  add(root, h("div", {class: "inv-layout"},
    h("section", {class: "card"}, h("h2", {}, "Ranked root causes"), list, completeness(inv)),
    h("div", {class: "inv-main"}, detail, charts(inv, changes))));
  // bar widths through the CSSOM (the page's CSP forbids inline style attributes)
  list.querySelectorAll(".bar").forEach((bar) => { bar.style.width = `${bar.dataset.w}%`; });
  if (causes.length) select(causes[0]);
}

function scoreWidth(cause, causes) {
  const top = Math.max(...causes.map((c) => c.score), 1e-9);
  return Math.max(3, Math.round((cause.score / top) * 100));
}

function header(inv) {
  const entries = inv.symptom?.entry_points || [];
  const strength = inv.evidence_strength || {};
  const baselineS = typeof strength.baseline_seconds === "number" ? ` (${duration(strength.baseline_seconds)})` : "";
  return h("div", {class: "page-head inv-head"},
    h("h1", {}, "Investigation: ", inv.symptom?.given || (entries.length ? `${entries[0].service} (detected)` : "detected symptom")),
    h("p", {class: "sub"}, `Onset ${time(inv.onset)} UTC (${inv.onset_source}) · baseline ${time(inv.windows.baseline.since)} – ` +
      `${time(inv.windows.baseline.until).slice(11)}${baselineS} · incident until ${time(inv.windows.incident.until).slice(11)} · ` +
      `took ${inv.seconds ?? "?"} s`),
    // thin evidence said plainly, before anyone reads the ranking as settled
    strength.note ? Object.assign(notice("warn", strength.rankable === false ? "Too little evidence to rank" : "Thin evidence",
      `${strength.note[0].toUpperCase()}${strength.note.slice(1)}.`), {id: "thin-evidence"}) : null,
    entries.length ? h("div", {class: "symptoms"}, entries.slice(0, 4).map((g) => h("div", {class: "symptom"},
      h("strong", {}, `${g.service} ${g.operation ?? ""}`),
      h("span", {}, ` errors ${pct(g.baseline.error_rate)} → `, h("b", {class: g.incident.error_rate > g.baseline.error_rate * 1.5 ? "bad" : ""}, pct(g.incident.error_rate))),
      h("span", {}, ` · p90 ${ms(g.baseline.p90_ms)} → `, h("b", {class: g.incident.p90_ms > g.baseline.p90_ms * 1.5 ? "bad" : ""}, ms(g.incident.p90_ms)))))) : null);
}

function duration(seconds) {
  return seconds >= 90 ? `${(seconds / 60).toFixed(seconds >= 600 ? 0 : 1)} min` : `${Math.round(seconds)} s`;
}

function completeness(inv) {
  const c = inv.data_completeness;
  if (!c) return null;
  const sig = c.signals || {};
  return h("div", {class: "completeness"}, h("h3", {}, "Evidence available"),
    h("div", {class: "chips"},
      chip(plural(c.traces, "trace"), sig.traces ? "ok" : "off"),
      chip(`${pct(c.complete_share)} complete`, c.complete_share >= 0.9 ? "ok" : "warn"),
      chip(plural(c.logs, "log"), sig.logs ? "ok" : "off"),
      chip(plural(c.metric_points, "metric point"), sig.metrics ? "ok" : "off"),
      chip(plural(c.changes, "change"), sig.changes ? "ok" : "off")));
}

function causeDetail(inv, cause, graph) {
  const chain = cause.chain || [];
  const path = chain.map((hop) => hop.service);
  const symptomService = chain.length ? chain[chain.length - 1].service : null;
  const out = [];
  out.push(h("section", {class: "card", id: "chain"},
    h("h2", {}, `Causal chain of #${cause.rank} ${cause.service}`),
    h("ol", {class: "chain"}, chain.map((hop, i) => h("li", {class: `hop${i === 0 ? " origin" : ""}${i === chain.length - 1 ? " symptom" : ""}`},
      h("div", {class: "hop-name"}, hop.service, hop.operation ? h("span", {class: "op"}, ` ${hop.operation}`) : null),
      h("div", {class: "hop-effect"}, hop.effect),
      // when the investigation followed the requests' real path, how many took it
      typeof hop.traces === "number" && hop.traces > 0 ? h("div", {class: "hop-traces muted small"}, `${plural(hop.traces, "request")} on this path`) : null)))));
  // the ROOT CAUSE flag stays on the top-ranked cause; another candidate shows as selected, with its chain
  const top = (inv.root_causes || [])[0] || cause;
  const svg = drawGraph(graph, {windowName: "window", rootCause: top.service, path,
    selected: cause.service !== top.service ? cause.service : null,
    anomalies: new Map(symptomService && symptomService !== cause.service ? [[symptomService, "symptom"]] : [])});
  out.push(h("section", {class: "card map-card"}, h("h2", {}, "Where it happened (incident window)"),
    h("div", {class: "map-canvas", id: "inv-map"}, svg)));
  out.push(h("section", {class: "card", id: "evidence"}, h("h2", {}, "Evidence"), evidenceTable(cause, inv),
    exemplars(inv, cause), agentRuns(cause)));
  return out;
}

/** The agent runs the investigation found involved in this cause, each a link to its page. */
function agentRuns(cause) {
  const runs = cause.agent_runs || [];
  if (!runs.length) return null;
  return [h("h3", {}, `Agent runs involved (${runs.length})`), h("ul", {class: "plain agent-runs", id: "cause-agent-runs"},
    runs.slice(0, 20).map((id) => h("li", {}, h("a", {href: `#/agents/${encodeURIComponent(id)}`}, h("code", {}, id))))),
  runs.length > 20 ? h("p", {class: "muted"}, `and ${runs.length - 20} more`) : null];
}

function evidenceTable(cause, inv) {
  const rows = cause.evidence || [];
  if (!rows.length) return h("p", {class: "muted"}, "No evidence items.");
  return h("table", {class: "data evidence"},
    h("thead", {}, h("tr", {}, h("th", {}, "type"), h("th", {}, "what"), h("th", {class: "n"}, "before → after"),
      h("th", {class: "n"}, "weight"), h("th", {}, "trace"))),
    h("tbody", {}, rows.slice().sort((a, b) => (b.weight || 0) - (a.weight || 0)).map((e) => h("tr", {class: e.weight > 0 ? "" : "context"},
      h("td", {}, chip(e.type.replace(/_/g, " "), e.type === "change" ? "warn" : "")),
      h("td", {}, e.summary),
      h("td", {class: "n nowrap"}, beforeAfter(e)),
      h("td", {class: "n", title: "how much this item adds to the cause's score; 0: shown for context, not counted"},
        typeof e.weight === "number" && e.weight > 0 ? e.weight.toFixed(3) : h("span", {class: "muted"}, "context")),
      h("td", {}, e.exemplar_trace ? h("a", {href: `#/trace/${encodeURIComponent(e.exemplar_trace)}`, class: "trace-link"},
        e.exemplar_trace.slice(0, 8) + "…") : "", e.type === "log_template" && e.example ? logsLink(e, inv) : null)))));
}

/** The log records behind a log-template evidence item: same service, same template, the investigated span. */
function logsLink(e, inv) {
  const q = new URLSearchParams({service: e.service, similar_to: e.example,
    since: inv.windows.baseline.since, until: inv.windows.incident.until});
  return h("a", {href: `#/logs?${q}`, class: "logs-link"}, "matching logs →");
}

/** A value in its unit (UCUM): seconds and milliseconds as durations, ratios as percentages, {x} as a count of x. */
function withUnit(v, unit) {
  if (typeof v !== "number") return null;
  if (unit === "s") return ms(v * 1000);
  if (unit === "ms") return ms(v);
  if (unit === "1") return pct(v);
  if (unit === "By") return v >= 1048576 ? `${(v / 1048576).toFixed(1)} MiB` : v >= 1024 ? `${(v / 1024).toFixed(1)} KiB` : `${Math.round(v)} B`;
  const count = /^\{(\w+)\}(\/s)?$/.exec(unit || "");
  if (count) return count[2] ? `${+v.toPrecision(3)}/s` : plural(Math.round(v), count[1]);
  return unit ? `${+v.toPrecision(3)} ${unit.replace(/[{}]/g, "")}` : null;
}

function beforeAfter(e) {
  const f = (v) => withUnit(v, e.unit) ??
    (typeof v === "number" ? (Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : String(+v.toPrecision(3))) : v ?? "–");
  if (e.type === "change") return e.minutes_before_onset !== undefined ? `${e.minutes_before_onset} min before onset` : "";
  if (e.type === "saturation") return `p50 ×${e.after}`;
  return `${f(e.before)} → ${f(e.after)}`;
}

function exemplars(inv, cause) {
  const failing = cause.exemplar_trace || inv.exemplars?.failing;
  const healthy = inv.exemplars?.healthy;
  if (!failing && !healthy) return null;
  return h("p", {class: "exemplars"}, "Example traces: ",
    failing ? h("a", {class: "button", id: "exemplar-failing", href: `#/trace/${encodeURIComponent(failing)}`}, "failing trace →") : null,
    " ", healthy ? h("a", {class: "button", href: `#/trace/${encodeURIComponent(healthy)}`}, "healthy trace for comparison") : null,
    " ", failing && healthy ? h("a", {class: "button", id: "compare-exemplars",
      href: `#/compare/${encodeURIComponent(failing)}/${encodeURIComponent(healthy)}`}, "side by side") : null);
}

function charts(inv, changes) {
  const box = h("section", {class: "card", id: "timeline"}, h("h2", {}, "Symptom and top cause over time, with changes"));
  const entry = inv.symptom?.entry_points?.[0];
  const given = inv.symptom?.given ? inv.symptom.given.split(":") : null;
  const service = entry?.service || given?.[0];
  if (!service) {
    add(box, h("p", {class: "muted"}, "No symptom service to chart."));
    return box;
  }
  // several entry points of one service: chart the service as a whole, steadier than one operation
  const entries = inv.symptom?.entry_points || [];
  const oneService = entries.length > 1 && entries.every((g) => g.service === service);
  const operation = oneService ? "" : entry?.operation || given?.[1] || "";
  const {baseline, incident} = inv.windows;
  const t0 = toDate(baseline.since).getTime(), t1 = toDate(incident.until).getTime();
  const onset = toDate(inv.onset)?.getTime();
  const markers = changes.map((c) => ({t: toDate(c.time).getTime(), label: `${c.kind} ${c.service}`,
    title: `${time(c.time)} ${c.kind} ${c.service}${c.version ? ` ${c.version}` : ""}: ${c.description}`}));
  const slot = h("div", {class: "charts"}, spinner("Loading the symptom's series…"));
  add(box, h("p", {class: "sub"}, `${service}${operation ? ` ${operation}` : ""} · shaded: incident window · ▼ change events`), slot);
  // about 40 requests per bucket keeps rates readable on small data, capped for long windows
  const requests = entries.length ? entries.reduce((n, g) => n + g.baseline.requests + g.incident.requests, 0) : 2400;
  const buckets = Math.max(20, Math.min(90, Math.round(requests / 40)));
  const top = (inv.root_causes || [])[0];
  const cause = top && (top.service !== service || (top.operation || "") !== operation) ? top : null;
  const bounds = {since: baseline.since, until: incident.until, buckets};
  Promise.all([api.get("/api/series", {service, operation, ...bounds}),
    cause ? api.get("/api/series", {service: cause.service, operation: cause.operation || "", ...bounds}).catch(() => null) : null,
  ]).then(([series, causeSeries]) => {
    const pts = (s, key) => s.points.map((p) => ({t: p.t_ns / 1e6, v: p[key]}));
    const common = {domain: [t0, t1], shade: [toDate(incident.since).getTime(), t1], onset, markers, width: 620, height: 200};
    add(clear(slot),
      lineChart({...common, title: `error rate · ${service}`, points: pts(series, "error_rate"), format: pct, tone: "err"}),
      lineChart({...common, title: `p95 latency · ${service}`, points: pts(series, "p95_ms"), format: ms, tone: "lat"}));
    if (causeSeries && causeSeries.points.length) {
      const name = `${cause.service}${cause.operation ? ` ${cause.operation}` : ""}`;
      add(slot, h("h3", {class: "cause-series"}, `Top cause #1: ${name}`),
        lineChart({...common, title: `error rate · ${cause.service}`, points: pts(causeSeries, "error_rate"), format: pct, tone: "err of-cause"}),
        lineChart({...common, title: `p95 latency · ${cause.service}`, points: pts(causeSeries, "p95_ms"), format: ms, tone: "lat of-cause"}));
    }
    if (changes.length) {
      add(slot, h("ul", {class: "plain changes"}, changes.map((c) => h("li", {},
        h("span", {class: "muted"}, time(c.time)), " ", chip(c.kind, "warn"), " ", h("strong", {}, c.service), " ",
        c.version ? `${c.version} · ` : "", c.description))));
    }
  }).catch((err) => add(clear(slot), notice("error", "Could not load the series", err.message)));
  return box;
}
