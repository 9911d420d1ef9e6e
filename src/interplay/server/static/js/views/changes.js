// Change events on a timeline: one lane per service, deploys, config, flags, infra and commits by
// colour, the version or description beside each, and behind them the service's traffic (request
// rate shaded, error rate as a red line) so a regression after a change shows where it happened;
// the list below.
import * as api from "../api.js";
import {add, chip, h, ms, pct, s, time, toDate, truncate} from "../dom.js";
import * as range from "../range.js";

const KINDS = ["deploy", "config", "flag", "infra", "commit"];
const TRAFFIC_LANES = 12;   // lanes that get their traffic drawn (one series request each)
const BUCKETS = 120;

export async function renderChanges(root, _args, query) {
  const service = query.get("service") || "";
  const [changes, services] = await Promise.all([api.get("/api/changes", {...range.params(), service, limit: 1000}),
    api.get("/api/services", range.params())]);
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Changes"),
    h("p", {class: "sub"}, `Deploys, config, flags, infra and commits · ${range.label()}`,
      service ? [" · ", chip(service), " ", h("a", {href: "#/changes"}, "all services")] : null)));
  if (!changes.length) {
    add(root, h("section", {class: "card"}, h("p", {class: "muted empty-row"}, "No change events in this time range. Record one with ",
      h("code", {}, "interplay change add --service S --kind deploy -m \"v2\""), " or POST /v1/changes.")));
    return;
  }
  add(root, h("section", {class: "card", id: "change-timeline"},
    h("p", {class: "kind-legend"}, KINDS.map((k) => h("span", {}, h("i", {class: k}), k)),
      h("span", {class: "traffic-key"}, h("i", {class: "rate"}), "requests/s"), h("span", {class: "traffic-key"}, h("i", {class: "errors"}), "error rate")),
    timeline(changes, services)));
  add(root, h("section", {class: "card"}, h("table", {class: "data", id: "changes-table"},
    h("thead", {}, h("tr", {}, ["time (UTC)", "service", "kind", "version", "description"].map((t) => h("th", {}, t)))),
    h("tbody", {}, changes.map((c) => h("tr", {},
      h("td", {class: "nowrap"}, time(c.time)),
      h("td", {}, h("a", {href: `#/service/${encodeURIComponent(c.service)}`}, c.service)),
      h("td", {}, chip(c.kind, c.kind === "deploy" ? "warn" : "")), h("td", {}, c.version || "–"),
      h("td", {}, c.description)))))));
}

function timeline(changes, services) {
  const lanes = [...new Set(changes.map((c) => c.service))].sort();
  const times = changes.map((c) => toDate(c.time).getTime());
  // the span of the changes and of the telemetry, so traffic before and after each change is in sight
  const seen = services.filter((r) => lanes.includes(r.service));
  let t0 = Math.min(...times, ...seen.map((r) => toDate(r.first_seen).getTime()));
  let t1 = Math.max(...times, ...seen.map((r) => toDate(r.last_seen).getTime()));
  const pad = Math.max((t1 - t0) * 0.02, 30000);
  t0 -= pad;
  t1 += pad;
  const width = 1200, left = 170, right = 20, laneH = 54, top = 24;
  const height = top + lanes.length * laneH + 24;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const svg = s("svg", {class: "timeline", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Change events by service"});
  for (let i = 0; i <= 6; i++) {
    const t = t0 + ((t1 - t0) * i) / 6;
    svg.append(s("line", {x1: x(t), x2: x(t), y1: top - 6, y2: height - 20, class: "grid"}),
      s("text", {x: x(t), y: height - 6, class: "axis", "text-anchor": i === 6 ? "end" : "middle"},
        time(new Date(t).toISOString()).slice(5, 16)));
  }
  lanes.forEach((lane, i) => {
    const y = top + i * laneH;
    const traffic = s("g", {class: "lane-traffic", dataset: {service: lane}});
    svg.append(s("rect", {x: left - 6, y: y + 3, width: width - left - right + 12, height: laneH - 6, rx: 5, class: "lane-bg"}),
      s("text", {x: left - 12, y: y + laneH / 2 + 4, class: "lane-name", "text-anchor": "end"}, truncate(lane, 22)), traffic);
    if (i < TRAFFIC_LANES && seen.some((r) => r.service === lane)) {
      drawTraffic(traffic, lane, {t0, t1, x, top: y + 7, bottom: y + laneH - 7});
    }
    let lastX = -Infinity;
    for (const c of changes.filter((ch) => ch.service === lane).sort((a, b) => a.time_ns - b.time_ns)) {
      const cx = x(toDate(c.time).getTime());
      const label = c.version || c.description;
      svg.append(s("g", {class: `change ${KINDS.includes(c.kind) ? c.kind : "infra"}`},
        s("title", {}, `${time(c.time)} UTC · ${c.kind} ${c.service}${c.version ? ` ${c.version}` : ""}: ${c.description}`),
        s("line", {x1: cx, x2: cx, y1: y + 4, y2: y + laneH - 4, class: "change-line"}),
        s("circle", {cx, cy: y + laneH / 2, r: 6}),
        // a label only where it does not run into the previous one
        cx - lastX > 90 ? s("text", {x: cx > width - 120 ? cx - 9 : cx + 9, y: y + laneH / 2 - 8,
          "text-anchor": cx > width - 120 ? "end" : "start"}, truncate(label, 14)) : null));
      lastX = cx - lastX > 90 ? cx : lastX;
    }
  });
  return svg;
}

/** The service's request rate (shaded, scaled to its own peak) and error rate (red, 0..max(peak, 5%))
 * behind its lane; the peaks on hover. Loaded after the page shows. */
function drawTraffic(g, service, {t0, t1, x, top, bottom}) {
  const iso = (t) => new Date(t).toISOString();
  api.get("/api/series", {service, since: iso(t0), until: iso(t1), buckets: BUCKETS}).then((series) => {
    const pts = series.points.map((p) => ({x: x(p.t_ns / 1e6 + series.step_ns / 2e6), ...p}));
    if (!pts.length) return;
    const peakRate = Math.max(...pts.map((p) => p.rate), 1e-9);
    const peakErr = Math.max(...pts.map((p) => p.error_rate ?? 0), 0.05);
    const yRate = (v) => bottom - (v / peakRate) * (bottom - top);
    const yErr = (v) => bottom - (v / peakErr) * (bottom - top);
    const area = `M${pts[0].x},${bottom} ` + pts.map((p) => `L${p.x.toFixed(1)},${yRate(p.rate).toFixed(1)}`).join(" ") +
      ` L${pts[pts.length - 1].x},${bottom} Z`;
    // error rate drawn only where there were requests (no line through empty buckets)
    const errs = pts.map((p, i) => (p.error_rate === null ? null : `${i && pts[i - 1].error_rate !== null ? "L" : "M"}${p.x.toFixed(1)},${yErr(p.error_rate).toFixed(1)}`))
      .filter(Boolean).join(" ");
    const worst = pts.reduce((a, b) => ((b.p95_ms ?? 0) > (a.p95_ms ?? 0) ? b : a));
    add(g, s("title", {}, `${service}: up to ${peakRate.toFixed(2)} requests/s, error rate up to ` +
      `${pct(Math.max(...pts.map((p) => p.error_rate ?? 0)))}, p95 up to ${ms(worst.p95_ms ?? 0)}`),
    s("path", {d: area, class: "rate"}), errs ? s("path", {d: errs, class: "errors"}) : null);
  }).catch(() => g.append(s("title", {}, `${service}: traffic could not be loaded`)));
}
