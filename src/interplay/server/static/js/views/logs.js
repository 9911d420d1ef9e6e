// Log records: filters (service, severity, text, trace, "same template as"), newest first; each
// record links to its trace. Also a compact table of a trace's or span's records for the trace view.
import * as api from "../api.js";
import {add, chip, h, time} from "../dom.js";
import * as range from "../range.js";

export const SEVERITIES = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

export async function renderLogs(root, _args, query) {
  const params = {service: query.get("service") || "", severity: query.get("severity") || "",
    text: query.get("text") || "", trace_id: query.get("trace_id") || "", span_id: query.get("span_id") || "",
    similar_to: query.get("similar_to") || "", limit: query.get("limit") || "200"};
  // a link from an investigation or a trace carries its own window; otherwise the header's range
  const win = query.get("since") || query.get("until") ? {since: query.get("since") || "", until: query.get("until") || ""}
    : params.trace_id ? {} : range.params();
  const [rows, services] = await Promise.all([api.get("/api/logs", {...win, ...params}), api.get("/api/services", range.params())]);
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Logs"),
    h("p", {class: "sub"}, `Newest first · ${params.trace_id ? `trace ${params.trace_id}` : win.since || win.until
      ? `${time(win.since) || "start"} – ${time(win.until) || "now"} UTC` : range.label()}`)));
  const service = h("select", {name: "service", id: "log-service", "aria-label": "Service"},
    h("option", {value: ""}, "any service"),
    services.map((s) => h("option", {value: s.service, selected: s.service === params.service}, s.service)));
  const severity = h("select", {name: "severity", id: "log-severity", "aria-label": "Lowest severity"},
    h("option", {value: ""}, "any severity"),
    SEVERITIES.map((s) => h("option", {value: s, selected: s === params.severity.toUpperCase()}, `${s} and above`)));
  const text = h("input", {type: "search", name: "text", id: "log-text", placeholder: "text in the body", value: params.text,
    "aria-label": "Text in the body"});
  const trace = h("input", {name: "trace_id", id: "log-trace", placeholder: "trace id", value: params.trace_id,
    "aria-label": "Trace id"});
  const form = h("form", {class: "filters", id: "logs-form"}, service, severity, text, trace,
    h("button", {type: "submit"}, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const [k, el] of [["service", service], ["severity", severity], ["text", text], ["trace_id", trace]]) {
      if (el.value.trim()) q.set(k, el.value.trim());
    }
    location.hash = `#/logs${q.toString() ? `?${q}` : ""}`;
  });
  const active = [
    params.similar_to ? chip(`same template as: ${params.similar_to}`, "warn") : null,
    params.span_id ? chip(`span ${params.span_id}`) : null];
  add(root, h("section", {class: "card"}, form, active.some(Boolean) ? h("p", {class: "chips"}, active) : null,
    rows.length ? logTable(rows, {id: "logs-table"})
      : h("p", {class: "muted empty-row"}, "No log records match these filters in this time range."),
    rows.length >= Number(params.limit) ? h("p", {class: "muted"}, `Showing the newest ${rows.length}; narrow the filters to see older ones.`) : null));
}

/** A table of log records: time, service, severity, message, and a link to the record's trace. */
export function logTable(rows, {id} = {}) {
  return h("table", {class: "data logs", id},
    h("thead", {}, h("tr", {}, ["time (UTC)", "service", "severity", "message", "trace"].map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {class: `sev-${sevClass(r.severity_number)}`},
      h("td", {class: "nowrap mono"}, time(r.time_ns) + msPart(r.time_ns)),
      h("td", {}, r.service),
      h("td", {}, chip(r.severity, sevTone(r.severity_number))),
      h("td", {class: "log-body"}, r.body),
      h("td", {}, r.trace_id ? h("a", {class: "trace-link", href: `#/trace/${encodeURIComponent(r.trace_id)}`},
        h("code", {}, r.trace_id.slice(0, 8))) : "")))));
}

/** A narrow list of log records (a span's, in the trace view's side panel): time, severity, message. */
export function logList(rows) {
  return h("ul", {class: "plain span-logs", id: "span-logs"}, rows.map((r) => h("li", {class: `sev-${sevClass(r.severity_number)}`},
    h("span", {class: "muted mono"}, time(r.time_ns).slice(11) + msPart(r.time_ns)), " ",
    chip(r.severity, sevTone(r.severity_number)), h("div", {class: "log-body"}, r.body))));
}

function msPart(ns) {
  return `.${String(Math.floor((Number(ns) / 1e6) % 1000)).padStart(3, "0")}`;
}

function sevClass(n) {
  return n >= 17 ? "error" : n >= 13 ? "warn" : "info";
}

function sevTone(n) {
  return n >= 17 ? "bad" : n >= 13 ? "warn" : "";
}
