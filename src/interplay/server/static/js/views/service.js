// One service over time: request rate, error rate and p50/p95/p99 latency per bucket, for the service
// or one of its operations, with change events marked; and its operations.
import * as api from "../api.js";
import {lineChart} from "../charts.js";
import {add, chip, h, ms, num, pct, rate, time, toDate} from "../dom.js";
import * as range from "../range.js";

export async function renderService(root, [service], query) {
  const operation = query.get("operation") || "";
  const win = range.params();
  const [ops, series, changes, services] = await Promise.all([
    api.get("/api/operations", {...win, service}),
    api.get("/api/series", {...win, service, operation, buckets: 60}),
    api.get("/api/changes", {...win, limit: 500}),
    api.get("/api/services", win)]);
  const summary = services.find((s) => s.service === service);
  const here = (extra = {}) => `#/service/${encodeURIComponent(service)}${new URLSearchParams(extra).toString() ? `?${new URLSearchParams(extra)}` : ""}`;
  add(root, h("div", {class: "page-head"},
    h("p", {class: "crumbs"}, h("a", {href: "#/services"}, "← services")),
    h("h1", {}, "Service: ", service, operation ? [" · ", h("span", {class: "op"}, operation)] : null),
    h("p", {class: "sub"}, range.label(), summary ? ` · ${num(summary.requests)} requests · ${rate(summary.request_rate)} · ` +
      `${pct(summary.error_rate)} errors · p50 ${ms(summary.p50_ms)} · p99 ${ms(summary.p99_ms)}` : "",
    operation ? [" · ", h("a", {href: here()}, "whole service")] : null),
    h("p", {class: "actions"},
      h("a", {class: "button", href: `#/traces?${new URLSearchParams({service, ...(operation ? {operation} : {})})}`}, "Traces"),
      h("a", {class: "button", href: `#/logs?${new URLSearchParams({service})}`}, "Logs"),
      h("a", {class: "button", href: `#/changes?${new URLSearchParams({service})}`}, "Changes"),
      h("a", {class: "button primary", href: `#/investigate?${new URLSearchParams({symptom: operation ? `${service}:${operation}` : service})}`}, "Investigate"))));
  add(root, h("section", {class: "card", id: "service-charts"},
    h("h2", {}, operation ? `${operation} over time` : "Entry points over time"),
    h("p", {class: "sub"}, `${series.step_ns ? `${ms(series.step_ns / 1e6)} buckets` : ""} · ▼ change events (this service's in bold)`),
    charts(series, changes, service)));
  add(root, h("section", {class: "card"}, h("h2", {}, `Operations (${ops.length})`),
    h("table", {class: "data", id: "operations-table"},
      h("thead", {}, h("tr", {}, ["operation", "kind", "calls", "errors", "p50", "p95", "p99"]
        .map((t, i) => h("th", {class: i >= 2 ? "n" : ""}, t)))),
      h("tbody", {}, ops.map((o) => h("tr", {class: o.operation === operation ? "selected" : ""},
        h("td", {}, h("a", {href: here({operation: o.operation})}, o.operation), o.entry ? [" ", chip("entry", "ok")] : null),
        h("td", {}, o.kind), h("td", {class: "n"}, num(o.calls)),
        h("td", {class: `n ${o.error_rate >= 0.05 ? "bad" : ""}`}, `${num(o.errors)} (${pct(o.error_rate)})`),
        h("td", {class: "n"}, ms(o.p50_ms)), h("td", {class: "n"}, ms(o.p95_ms)), h("td", {class: "n"}, ms(o.p99_ms))))))));
}

function charts(series, changes, service) {
  if (!series.points.length) return h("p", {class: "muted"}, "No spans of this service in this time range.");
  const t0 = series.points[0].t_ns / 1e6;
  const t1 = (series.points[series.points.length - 1].t_ns + series.step_ns) / 1e6;
  const markers = changes.map((c) => ({t: toDate(c.time).getTime(), kind: c.service === service ? "own" : "other",
    label: c.service === service ? `${c.kind}${c.version ? ` ${c.version}` : ""}` : `${c.kind} ${c.service}`,
    title: `${time(c.time)} ${c.kind} ${c.service}${c.version ? ` ${c.version}` : ""}: ${c.description}`}));
  const pts = (key) => series.points.map((p) => ({t: p.t_ns / 1e6, v: p[key]}));
  const common = {domain: [t0, t1], markers, width: 460, height: 210};
  return h("div", {class: "charts three"},
    lineChart({...common, title: "requests / s", points: pts("rate"), format: rate, tone: "rate"}),
    lineChart({...common, title: "error rate", points: pts("error_rate"), format: pct, tone: "err"}),
    lineChart({...common, title: "latency", format: ms, tone: "lat", series: [
      {points: pts("p50_ms"), label: "p50", cls: "p50"}, {points: pts("p95_ms"), label: "p95", cls: "p95"},
      {points: pts("p99_ms"), label: "p99", cls: "p99"}]}));
}
