// The services and traces lists, with filters.
import * as api from "../api.js";
import {add, chip, clear, h, ms, num, pct, rate, s, time, toDate} from "../dom.js";
import * as range from "../range.js";
import {emptyState} from "./map.js";

export async function renderServices(root, _args, query) {
  const services = await api.get("/api/services", range.params());
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Services"), h("p", {class: "sub"}, range.label())));
  if (!services.length) {
    add(root, await emptyState());
    return;
  }
  const filter = h("input", {type: "search", id: "service-filter", placeholder: "filter by name", value: query.get("q") || "",
    "aria-label": "Filter services"});
  const errorsOnly = h("input", {type: "checkbox", id: "service-errors"});
  const body = h("tbody");
  const draw = () => {
    const q = filter.value.trim().toLowerCase();
    const rows = services.filter((s) => s.service.toLowerCase().includes(q) && (!errorsOnly.checked || s.errors > 0));
    add(clear(body), ...rows.map((s) => h("tr", {},
      h("td", {}, h("a", {href: `#/service/${encodeURIComponent(s.service)}`}, s.service)),
      h("td", {class: "n"}, num(s.requests)), h("td", {class: "n"}, rate(s.request_rate)),
      h("td", {class: `n ${s.error_rate >= 0.05 ? "bad" : ""}`}, pct(s.error_rate)),
      h("td", {class: "n"}, ms(s.p50_ms)), h("td", {class: "n"}, ms(s.p99_ms)), h("td", {class: "n"}, num(s.spans)),
      h("td", {class: "nowrap"}, time(s.last_seen)),
      h("td", {class: "nowrap"}, h("a", {href: `#/traces?service=${encodeURIComponent(s.service)}`}, "traces"), " · ",
        h("a", {href: `#/investigate?symptom=${encodeURIComponent(s.service)}`}, "investigate")))));
    if (!rows.length) add(body, h("tr", {}, h("td", {colspan: 9, class: "muted"}, "No service matches the filter.")));
  };
  filter.addEventListener("input", draw);
  errorsOnly.addEventListener("change", draw);
  draw();
  add(root, h("section", {class: "card"},
    h("div", {class: "filters"}, filter, h("label", {class: "check"}, errorsOnly, " with errors only")),
    h("table", {class: "data", id: "services-table"},
      h("thead", {}, h("tr", {}, ["service", "requests", "rate", "errors", "p50", "p99", "spans", "last seen (UTC)", ""]
        .map((t, i) => h("th", {class: i >= 1 && i <= 6 ? "n" : ""}, t)))), body)));
}

export async function renderTraces(root, _args, query) {
  const params = {service: query.get("service") || "", operation: query.get("operation") || "",
    errors: query.get("errors") === "true", min_duration: query.get("min_duration") || "", limit: query.get("limit") || "50"};
  const attrs = query.getAll("attr");
  const [traces, services] = await Promise.all([
    api.get("/api/traces", {...range.params(), ...params}, {attr: attrs}), api.get("/api/services", range.params())]);
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Traces"), h("p", {class: "sub"}, `Newest first · ${range.label()}`)));
  if (!services.length) {
    add(root, await emptyState());
    return;
  }
  const service = h("select", {name: "service", id: "trace-service"}, h("option", {value: ""}, "any service"),
    services.map((s) => h("option", {value: s.service, selected: s.service === params.service}, s.service)));
  const operation = h("input", {name: "operation", id: "trace-operation", placeholder: "operation (span name)", value: params.operation});
  const errors = h("input", {type: "checkbox", name: "errors", id: "trace-errors", checked: params.errors});
  const minDuration = h("input", {name: "min_duration", id: "trace-min", placeholder: "min duration, e.g. 500ms", value: params.min_duration});
  const limit = h("select", {name: "limit", "aria-label": "How many traces"},
    ["20", "50", "200", "1000"].map((n) => h("option", {value: n, selected: n === params.limit}, `newest ${n}`)));
  const attr = h("input", {name: "attr", id: "trace-attr", placeholder: "attributes: key=value; key=value", value: attrs.join("; "),
    "aria-label": "Attributes a span carries"});
  const form = h("form", {class: "filters", id: "traces-form"}, service, operation, attr, minDuration,
    h("label", {class: "check"}, errors, " errors only"), limit, h("button", {type: "submit"}, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (service.value) q.set("service", service.value);
    if (operation.value.trim()) q.set("operation", operation.value.trim());
    if (minDuration.value.trim()) q.set("min_duration", minDuration.value.trim());
    attr.value.split(";").map((a) => a.trim()).filter(Boolean).forEach((a) => q.append("attr", a));
    if (errors.checked) q.set("errors", "true");
    if (limit.value !== "50") q.set("limit", limit.value);
    location.hash = `#/traces${q.toString() ? `?${q}` : ""}`;
  });
  const maxDuration = Math.max(...traces.map((t) => t.duration_ms), 1);
  add(root, h("section", {class: "card"}, form, traces.length > 1 ? scatter(traces) : null,
    traces.length ? h("table", {class: "data", id: "traces-table"},
    h("thead", {}, h("tr", {}, ["trace", "start (UTC)", "root", "duration", "", "spans", "errors", "services"]
      .map((t, i) => h("th", {class: i >= 5 || i === 3 ? "n" : ""}, t)))),
    h("tbody", {}, traces.map((t) => {
      const bar = h("div", {class: `minibar${t.errors ? " err" : ""}`});
      bar.style.width = `${Math.max((t.duration_ms / maxDuration) * 100, 1)}%`;
      return h("tr", {class: t.errors ? "error" : ""},
        h("td", {}, h("a", {href: `#/trace/${encodeURIComponent(t.trace_id)}`, class: "trace-link"}, h("code", {}, t.trace_id.slice(0, 16)))),
        h("td", {class: "nowrap"}, time(t.start)),
        h("td", {}, h("strong", {}, t.root_service), " ", t.root_operation, t.complete ? null : [" ", chip("incomplete", "warn")]),
        h("td", {class: "n"}, ms(t.duration_ms)), h("td", {class: "barcell"}, bar),
        h("td", {class: "n"}, num(t.spans)), h("td", {class: `n ${t.errors ? "bad" : ""}`}, num(t.errors)),
        h("td", {class: "n"}, num(t.services)));
    }))) : h("p", {class: "muted empty-row"}, "No traces match these filters in this time range.")));
}

/** Duration over time, one dot per trace (errors red, log scale); a click opens the trace. */
function scatter(traces) {
  const width = 1200, height = 190, m = {l: 64, r: 16, t: 14, b: 24};
  const ts = traces.map((t) => toDate(t.start).getTime());
  const t0 = Math.min(...ts), t1 = Math.max(...ts, t0 + 1000);
  const lo = Math.max(Math.min(...traces.map((t) => t.duration_ms)), 0.01), hi = Math.max(...traces.map((t) => t.duration_ms), lo * 10);
  const x = (t) => m.l + ((t - t0) / (t1 - t0)) * (width - m.l - m.r);
  const y = (d) => m.t + (1 - (Math.log10(Math.max(d, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (height - m.t - m.b);
  const svg = s("svg", {class: "scatter", id: "trace-scatter", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "Trace duration over time; click a dot to open the trace"});
  for (let i = 0; i <= 3; i++) {
    const d = lo * (hi / lo) ** (i / 3);
    svg.append(s("line", {x1: m.l, x2: width - m.r, y1: y(d), y2: y(d), class: "grid"}),
      s("text", {x: m.l - 6, y: y(d) + 4, class: "axis", "text-anchor": "end"}, ms(d)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    svg.append(s("text", {x: x(t), y: height - 6, class: "axis", "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle"},
      time(new Date(t).toISOString()).slice(11, 19)));
  }
  traces.forEach((t, i) => {
    const dot = s("circle", {cx: x(ts[i]), cy: y(t.duration_ms), r: 4.5, class: `dot${t.errors ? " err" : ""}`, tabindex: 0,
      dataset: {trace: t.trace_id}},
    s("title", {}, `${t.root_service} ${t.root_operation} · ${ms(t.duration_ms)} · ${time(t.start)} UTC${t.errors ? ` · ${t.errors} errors` : ""}`));
    const open = () => { location.hash = `#/trace/${encodeURIComponent(t.trace_id)}`; };
    dot.addEventListener("click", open);
    dot.addEventListener("keydown", (ev) => ev.key === "Enter" && open());
    svg.append(dot);
  });
  return h("div", {class: "scatter-box"}, svg);
}
