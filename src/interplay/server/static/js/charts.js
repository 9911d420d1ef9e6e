// Small SVG line charts over time, with an onset line, a shaded incident window and change markers.
import {s, time, truncate} from "./dom.js";

/**
 * opts: title, points [{t: ms, v: number|null}], format(v), domain [t0, t1] (ms), shade [t0, t1],
 * onset (ms), markers [{t: ms, label, title}], width, height, tone ("err" | "lat").
 * Several lines on one chart: series [{points, label, cls}] instead of points (a legend names them).
 */
export function lineChart(opts) {
  const width = opts.width || 640, height = opts.height || 190;
  const m = {l: 58, r: 14, t: 30, b: 26};
  const pw = width - m.l - m.r, ph = height - m.t - m.b;
  const lines = opts.series || [{points: opts.points, cls: "", label: ""}];
  const all = lines.flatMap((l) => l.points);
  const pts = all.filter((p) => p.v !== null && p.v !== undefined);
  const [t0, t1] = opts.domain || [all[0]?.t ?? 0, all[all.length - 1]?.t ?? 1];
  const vmax = niceMax(Math.max(...pts.map((p) => p.v), 0));
  const x = (t) => m.l + ((t - t0) / Math.max(t1 - t0, 1)) * pw;
  const y = (v) => m.t + ph - (v / vmax) * ph;
  const svg = s("svg", {class: `chart ${opts.tone || ""}`, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": opts.title});
  svg.append(s("text", {x: m.l, y: 16, class: "chart-title"}, opts.title));
  if (opts.shade) {
    const a = x(Math.max(opts.shade[0], t0)), b = x(Math.min(opts.shade[1], t1));
    svg.append(s("rect", {x: a, y: m.t, width: Math.max(b - a, 0), height: ph, class: "incident-shade"}));
  }
  for (let i = 0; i <= 4; i++) {
    const v = (vmax * i) / 4;
    svg.append(s("line", {x1: m.l, x2: m.l + pw, y1: y(v), y2: y(v), class: "grid"}));
    svg.append(s("text", {x: m.l - 6, y: y(v) + 4, class: "axis", "text-anchor": "end"}, opts.format(v)));
  }
  for (let i = 0; i <= 4; i++) {
    const t = t0 + ((t1 - t0) * i) / 4;
    svg.append(s("text", {x: x(t), y: height - 8, class: "axis", "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle"},
      time(new Date(t).toISOString()).slice(11, 16)));
  }
  // a gap in the data (an empty bucket) breaks the line instead of drawing through it
  lines.forEach((line, k) => {
    let d = "", pen = false;
    for (const p of line.points) {
      if (p.v === null || p.v === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)} `;
      pen = true;
    }
    const own = line.points.filter((p) => p.v !== null && p.v !== undefined);
    if (!own.length) return;
    if (lines.length === 1 && !d.slice(1).includes("M")) {
      const area = `${d}L${x(own[own.length - 1].t).toFixed(1)},${y(0)} L${x(own[0].t).toFixed(1)},${y(0)} Z`;
      svg.append(s("path", {d: area, class: "area"}));
    }
    svg.append(s("path", {d, class: `line ${line.cls || ""}`}));
    if (line.label) {
      const lx = width - m.r - (lines.length - k) * 64;
      svg.append(s("g", {class: `legend-item ${line.cls || ""}`},
        s("line", {x1: lx, x2: lx + 14, y1: 12, y2: 12, class: `line ${line.cls || ""}`}),
        s("text", {x: lx + 18, y: 16, class: "axis"}, line.label)));
    }
  });
  if (opts.onset !== undefined && opts.onset !== null) {
    svg.append(s("line", {x1: x(opts.onset), x2: x(opts.onset), y1: m.t - 4, y2: m.t + ph, class: "onset"},
      s("title", {}, `onset ${time(new Date(opts.onset).toISOString())}`)));
    svg.append(s("text", {x: x(opts.onset) + 4, y: m.t + 10, class: "onset-label"}, "onset"));
  }
  for (const mk of opts.markers || []) {
    if (mk.t < t0 || mk.t > t1) continue;
    const mx = x(mk.t);
    svg.append(s("g", {class: `marker ${mk.kind || ""}`},
      s("title", {}, mk.title || mk.label),
      s("line", {x1: mx, x2: mx, y1: m.t, y2: m.t + ph, class: "marker-line"}),
      s("path", {d: `M${mx - 6},${m.t - 12} L${mx + 6},${m.t - 12} L${mx},${m.t - 3} z`, class: "marker-head"}),
      s("text", {x: mx + 8, y: m.t - 4, class: "marker-label"}, truncate(mk.label, 28))));
  }
  if (!pts.length) {
    svg.append(s("text", {x: m.l + pw / 2, y: m.t + ph / 2, class: "axis", "text-anchor": "middle"}, "no requests in this window"));
  }
  return svg;
}

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const k of [1, 2, 2.5, 5, 10]) if (v <= k * p) return k * p;
  return 10 * p;
}
