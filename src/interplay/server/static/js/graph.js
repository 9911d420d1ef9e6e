// The service map: a layered left-to-right drawing of the interaction graph in SVG.
// Callers sit left of their callees; resources (databases, caches, queues, LLM providers, external APIs)
// end up to the right, each drawn in its own shape. Edges that skip a column are routed through the gaps
// between that column's nodes, never across a node; labels go beside the lines where there is room and
// every edge says its numbers on hover.
import {ms, pct, rate, s, truncate} from "./dom.js";

const W = 168, H = 54, COL = 250, ROW = 96, PAD = 28;
export const MIN_SCALE = 0.8;  // below this the labels get too small to read: the map scrolls sideways instead
const KIND_TAG = {service: "SVC", database: "DB", cache: "CACHE", queue: "QUEUE", llm: "LLM", external: "EXT"};
const LLM_API = /chat\/completions|\/v1\/(messages|completions|embeddings|responses)\b|generateContent|^(chat|embeddings|text_completion) /;
let uid = 0;

/** A node's kind as drawn: the graph's, except that a "service" whose operations are all LLM API calls
 * (an OpenAI- or Anthropic-style endpoint) is drawn as the LLM provider it stands for. */
export function drawnKind(n) {
  if (n.kind !== "service") return n.kind;
  const ops = (n.operations || []).map((o) => o.operation);
  return ops.length && ops.every((o) => LLM_API.test(o)) ? "llm" : "service";
}

/** Per node: rate, error rate, p95 for one window of the graph (resources get p95 from their callers). */
export function nodeMetrics(graph, windowName) {
  const out = new Map();
  for (const n of graph.nodes) {
    const st = (n.stats || {})[windowName] || {};
    const entry = (n.operations || []).filter((o) => o.entry && o.stats?.[windowName]);
    const p50 = entry.length ? Math.max(...entry.map((o) => o.stats[windowName].p50_ms ?? 0)) : null;
    out.set(n.id, {rate: st.rate ?? 0, error_rate: st.error_rate ?? 0, requests: st.requests ?? st.calls ?? 0,
      p95_ms: st.p95_ms ?? null, p50_ms: p50});
  }
  for (const e of graph.edges) {
    const m = out.get(e.callee);
    const st = (e.stats || {})[windowName];
    if (m && st && m.p95_ms === null) {
      m.p95_edge = Math.max(m.p95_edge ?? 0, st.p95_ms ?? 0);
      m.p50_edge = Math.max(m.p50_edge ?? 0, st.p50_ms ?? 0);
    }
  }
  for (const m of out.values()) {
    if (m.p95_ms === null && m.p95_edge !== undefined) [m.p95_ms, m.p50_ms] = [m.p95_edge, m.p50_edge];
  }
  return out;
}

/**
 * Draw the graph. opts: windowName (stats key), anomalies (Map id → reason), rootCause (id),
 * path (ids from root cause to symptom), onSelect(id), selected (id).
 */
export function drawGraph(graph, opts = {}) {
  const windowName = opts.windowName || "window";
  const metrics = nodeMetrics(graph, windowName);
  const pos = layout(graph.nodes, graph.edges);
  const onPath = pathEdges(graph.edges, opts.path || []);
  const pathNodes = new Set(opts.path || []);
  const highlighting = pathNodes.size > 0;
  const id = `g${++uid}`;
  let width = 0, height = 0;
  for (const p of pos.values()) {
    width = Math.max(width, p.x + W + PAD);
    height = Math.max(height, p.y + H + PAD + 24);
  }
  const columns = columnsOf(pos);
  const svg = s("svg", {class: "graph", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `Service map: ${graph.nodes.length} nodes, ${graph.edges.length} interactions`});
  svg.style.minWidth = `${Math.round(width * MIN_SCALE)}px`;
  svg.append(s("defs", {}, ["plain", "err", "hot", "dim"].map((k) => s("marker", {
    // sized in pixels, not by stroke width: a busy edge's arrow stays an arrow, not a wedge
    id: `${id}-${k}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 10, markerHeight: 10, markerUnits: "userSpaceOnUse",
    orient: "auto-start-reverse", class: `arrow arrow-${k}`}, s("path", {d: "M0,0 L10,5 L0,10 z"})))));
  const edgeLayer = s("g", {class: "edges"});
  const labelLayer = s("g", {class: "edge-labels"});
  // node boxes are obstacles for labels; labels are placed most important first, where they fit
  const taken = [...pos.values()].map((p) => ({x: p.x - 4, y: p.y - 22, w: W + 8, h: H + 26}));
  const drawn = [];
  for (const e of graph.edges) {
    const a = pos.get(e.caller), b = pos.get(e.callee);
    if (!a || !b) continue;
    const st = (e.stats || {})[windowName] || {};
    const hot = onPath.has(e);
    const bad = (st.error_rate ?? 0) >= 0.05;
    const kind = hot ? "hot" : highlighting ? "dim" : bad ? "err" : "plain";
    const geo = edgePath(a, b, columns);
    const widthPx = Math.min(1.2 + Math.log10(1 + (st.rate ?? 0)) * 1.6, 5);
    const cls = `edge ${kind}${e.mode === "async" ? " async" : ""}`;
    const title = `${e.caller} → ${e.callee} (${e.mode}): ${rate(st.rate)}, errors ${pct(st.error_rate)}, ` +
      `p50 ${ms(st.p50_ms)}, p95 ${ms(st.p95_ms)}${st.retries ? `, ${st.retries} retries` : ""}`;
    // a wide transparent twin under each edge makes the thin line easy to hover for its numbers
    edgeLayer.append(s("path", {d: geo.d, class: "edge-hit"}, s("title", {}, title)),
      s("path", {d: geo.d, class: cls, "stroke-width": hot ? widthPx + 2 : widthPx,
        "marker-end": `url(#${id}-${kind})`, "data-caller": e.caller, "data-callee": e.callee}, s("title", {}, title)));
    drawn.push({e, st, hot, bad, kind, geo, title});
  }
  const importance = (x) => (x.hot ? 1e6 : 0) + (x.bad ? 1e3 : 0) + (x.st.rate ?? 0);
  for (const x of drawn.sort((p, q) => importance(q) - importance(p))) {
    if (highlighting && !x.hot) continue;
    const errText = (x.st.error_rate ?? 0) > 0 ? `${pct(x.st.error_rate)} err` : "";
    const main = `${rate(x.st.rate)} · p95 ${ms(x.st.p95_ms)}`;
    // measured in the page's font (plus the halo), so two labels placed side by side never touch
    const w = textWidth(main, 11) + (errText ? 5 + textWidth(errText, 11, 600) : 0) + 6, lh = 15;
    // beside the line (above it), never on it: the label's box must not cover the edge's own point
    const spot = [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78].map((t) => x.geo.at(t))
      .map((p) => ({x: p.x - w / 2, y: p.y - lh - 3, w, h: lh}))
      .find((r) => !taken.some((o) => overlaps(r, o)));
    if (!spot) continue;  // no room: the edge's tooltip and the side panel still tell
    taken.push(spot);
    labelLayer.append(s("text", {x: spot.x + w / 2, y: spot.y + lh - 3, class: `edge-label ${x.kind}`, "text-anchor": "middle"},
      s("tspan", {}, main), errText ? s("tspan", {class: x.bad ? "bad" : "", dx: 5}, errText) : null,
      s("title", {}, x.title)));
  }
  svg.append(edgeLayer, labelLayer);
  const nodeLayer = s("g", {class: "nodes"});
  for (const n of graph.nodes) nodeLayer.append(drawNode(n, pos.get(n.id), metrics.get(n.id), opts, pathNodes, highlighting));
  svg.append(nodeLayer);
  return svg;
}

function drawNode(n, p, m, opts, pathNodes, highlighting) {
  const kind = drawnKind(n);
  const anomaly = opts.anomalies ? opts.anomalies.get(n.id) : null;
  const classes = ["node", `kind-${kind}`, kind === "service" ? "svc" : "resource"];
  if (anomaly) classes.push("anomalous");
  if (opts.rootCause === n.id) classes.push("root-cause");
  if (pathNodes.has(n.id)) classes.push("on-path");
  else if (highlighting) classes.push("dim");
  if (opts.selected === n.id) classes.push("selected");
  const g = s("g", {class: classes.join(" "), transform: `translate(${p.x},${p.y})`, tabindex: 0,
    role: "button", "data-node": n.id, "aria-label": `${kind} ${n.id}${anomaly ? `, anomalous: ${anomaly}` : ""}`});
  g.append(s("title", {}, `${n.id} (${kind})\n${rate(m.rate)}, errors ${pct(m.error_rate)}, p95 ${ms(m.p95_ms)}` +
    (anomaly ? `\nanomalous: ${anomaly}` : "")));
  g.append(shape(kind));
  // a cylinder's top ellipse takes the first few pixels: its text sits lower
  const text = s("g", {transform: kind === "database" ? "translate(0,5)" : null});
  const tag = KIND_TAG[kind] || "?";
  const tagW = 8 + tag.length * 6.4;
  text.append(s("rect", {x: 10, y: 10, width: tagW, height: 15, rx: 4, class: "tag"}));
  text.append(s("text", {x: 10 + tagW / 2, y: 21.5, class: "tag-text", "text-anchor": "middle"}, tag));
  const nameRoom = W - tagW - 26;
  text.append(fitText(s("text", {x: 16 + tagW, y: 22, class: "name"}, truncate(n.id, Math.floor(nameRoom / 7.4))), n.id.length * 7.4, nameRoom));
  const line = `${rate(m.rate)} · ${pct(m.error_rate)} err · p95 ${ms(m.p95_ms)}`;
  text.append(fitText(s("text", {x: 12, y: 42, class: `metrics${m.error_rate >= 0.05 ? " bad" : ""}`}, line), line.length * 5.6, W - 22));
  g.append(text);
  if (anomaly) {
    g.append(s("circle", {cx: W - 4, cy: 4, r: 9, class: "badge"}));
    g.append(s("text", {x: W - 4, y: 8.5, class: "badge-text", "text-anchor": "middle"}, "!"));
  }
  if (opts.rootCause === n.id) {
    g.append(s("rect", {x: 0, y: -20, width: 82, height: 16, rx: 4, class: "rc-flag"}));
    g.append(s("text", {x: 41, y: -8.5, class: "rc-flag-text", "text-anchor": "middle"}, "ROOT CAUSE"));
  }
  if (opts.onSelect) {
    g.addEventListener("click", () => opts.onSelect(n.id));
    g.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" || ev.key === " ") opts.onSelect(n.id);
    });
  }
  return g;
}

/** The outline of a node by kind: box (service), cylinder (database), box with a bolt (cache),
 * a pipe with ends (queue), a cut-corner tile (LLM), a dashed pill (external). */
function shape(kind) {
  if (kind === "database") {
    return s("path", {class: "box", d: `M0,8 A${W / 2},8 0 0 1 ${W},8 L${W},${H - 8} A${W / 2},8 0 0 1 0,${H - 8} Z ` +
      `M0,8 A${W / 2},8 0 0 0 ${W},8`});
  }
  if (kind === "queue") {
    return s("path", {class: "box", d: `M10,0 L${W - 10},0 A10,${H / 2} 0 0 1 ${W - 10},${H} L10,${H} A10,${H / 2} 0 0 1 10,0 Z ` +
      `M${W - 10},0 A10,${H / 2} 0 0 0 ${W - 10},${H}`});
  }
  if (kind === "llm") {
    return s("path", {class: "box", d: `M12,0 L${W - 12},0 L${W},12 L${W},${H - 12} L${W - 12},${H} L12,${H} L0,${H - 12} L0,12 Z`});
  }
  if (kind === "cache") {
    return s("g", {}, s("rect", {width: W, height: H, rx: 6, class: "box"}),
      s("path", {class: "bolt", d: `M${W - 22},9 L${W - 28},22 L${W - 22},22 L${W - 26},33 L${W - 16},18 L${W - 22},18 Z`}));
  }
  return s("rect", {width: W, height: H, rx: kind === "external" ? H / 2 : 10, class: `box${kind === "external" ? " dashed" : ""}`});
}

/** Squeeze a text to its room when its estimated width would spill out of the node. */
function fitText(el, estimated, room) {
  if (estimated > room) {
    el.setAttribute("textLength", String(room));
    el.setAttribute("lengthAdjust", "spacingAndGlyphs");
  }
  return el;
}

/** Per column x: the gaps (y centres) an edge may pass through, between, above and below its nodes. */
function columnsOf(pos) {
  const cols = new Map();
  for (const p of pos.values()) (cols.get(p.x) || cols.set(p.x, []).get(p.x)).push(p.y);
  const out = new Map();
  for (const [x, ys] of cols) {
    ys.sort((a, b) => a - b);
    const gaps = [ys[0] - (ROW - H) / 2, ...ys.map((y) => y + H + (ROW - H) / 2)];
    out.set(x, gaps);
  }
  return out;
}

/** Edges joining consecutive hops of a chain, in whichever direction the call went. */
function pathEdges(edges, path) {
  const hot = new Set();
  for (let i = 0; i + 1 < path.length; i++) {
    for (const e of edges) {
      if ((e.caller === path[i + 1] && e.callee === path[i]) || (e.caller === path[i] && e.callee === path[i + 1])) {
        hot.add(e);
      }
    }
  }
  return hot;
}

function edgePath(a, b, columns) {
  if (b.x > a.x) {
    const p0 = {x: a.x + W, y: a.y + H / 2}, p3 = {x: b.x - 2, y: b.y + H / 2};
    // columns strictly between the two: pass each through the gap nearest the straight line
    const between = [...columns.keys()].filter((x) => x > a.x && x < b.x).sort((u, v) => u - v);
    const points = [p0];
    for (const x of between) {
      const straight = p0.y + ((p3.y - p0.y) * (x + W / 2 - p0.x)) / (p3.x - p0.x);
      const gap = columns.get(x).reduce((best, g) => (Math.abs(g - straight) < Math.abs(best - straight) ? g : best));
      points.push({x: x - 14, y: gap}, {x: x + W + 14, y: gap});
    }
    points.push(p3);
    return route(points);
  }
  // back edge or same column: loop underneath
  const p0 = {x: a.x + W / 2, y: a.y + H}, p3 = {x: b.x + W / 2 + 8, y: b.y + H + 2};
  const drop = Math.max(a.y, b.y) + H + 46;
  const p1 = {x: p0.x, y: drop}, p2 = {x: p3.x, y: drop};
  return curve(p0, p1, p2, p3);
}

/** Through the points: S-curves with level tangents between columns, straight runs through a column's gap. */
function route(points) {
  const segs = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const p = points[i], q = points[i + 1];
    const through = i % 2 === 1;  // from a column's entry to its exit: along the gap
    if (through) segs.push({d: `L${q.x},${q.y}`, at: (t) => ({x: p.x + (q.x - p.x) * t, y: p.y + (q.y - p.y) * t})});
    else {
      const dx = (q.x - p.x) / 2;
      const c = curve(p, {x: p.x + dx, y: p.y}, {x: q.x - dx, y: q.y}, q);
      segs.push({d: `C${p.x + dx},${p.y} ${q.x - dx},${q.y} ${q.x},${q.y}`, at: c.at});
    }
  }
  const at = (t) => {
    const k = Math.min(Math.floor(t * segs.length), segs.length - 1);
    return segs[k].at(t * segs.length - k);
  };
  return {d: `M${points[0].x},${points[0].y} ${segs.map((x) => x.d).join(" ")}`, at};
}

function curve(p0, p1, p2, p3) {
  const at = (t) => {
    const u = 1 - t, a = u * u * u, b = 3 * u * u * t, c = 3 * u * t * t, d = t * t * t;
    return {x: a * p0.x + b * p1.x + c * p2.x + d * p3.x, y: a * p0.y + b * p1.y + c * p2.y + d * p3.y};
  };
  return {d: `M${p0.x},${p0.y} C${p1.x},${p1.y} ${p2.x},${p2.y} ${p3.x},${p3.y}`, at};
}

let measurer = null;

/** The width of a text in the page's font at this size (and weight), in SVG user units. */
function textWidth(text, size, weight = 400) {
  if (!measurer) measurer = document.createElement("canvas").getContext("2d");
  measurer.font = `${weight} ${size}px ${getComputedStyle(document.body).fontFamily}`;
  return measurer.measureText(text).width;
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

/** Columns by longest call path from the entry points (cycles broken), rows ordered by barycenter. */
export function layout(nodes, edges) {
  const ids = nodes.map((n) => n.id);
  const succ = new Map(ids.map((i) => [i, []])), pred = new Map(ids.map((i) => [i, []]));
  for (const e of edges) {
    if (succ.has(e.caller) && succ.has(e.callee) && e.caller !== e.callee) succ.get(e.caller).push(e.callee);
  }
  const back = new Set(), state = new Map();
  const visit = (v) => {
    state.set(v, 1);
    for (const w of succ.get(v)) {
      if (state.get(w) === 1) back.add(`${v}\u0000${w}`);
      else if (!state.get(w)) visit(w);
    }
    state.set(v, 2);
  };
  const byInDegree = [...ids].sort((a, b) => countIn(edges, a) - countIn(edges, b) || a.localeCompare(b));
  byInDegree.forEach((v) => state.get(v) || visit(v));
  for (const [v, ws] of succ) {
    succ.set(v, ws.filter((w) => !back.has(`${v}\u0000${w}`)));
    for (const w of succ.get(v)) pred.get(w).push(v);
  }
  const layer = new Map();
  const depth = (v) => {
    if (layer.has(v)) return layer.get(v);
    layer.set(v, 0);
    const d = pred.get(v).length ? Math.max(...pred.get(v).map(depth)) + 1 : 0;
    layer.set(v, d);
    return d;
  };
  ids.forEach(depth);
  const columns = [];
  for (const v of [...ids].sort()) {
    const l = layer.get(v);
    (columns[l] = columns[l] || []).push(v);
  }
  const index = new Map();
  const reindex = () => columns.forEach((col) => col.forEach((v, i) => index.set(v, i / Math.max(col.length, 1))));
  reindex();
  for (let sweep = 0; sweep < 6; sweep++) {
    const neighbours = sweep % 2 === 0 ? pred : succ;
    const order = sweep % 2 === 0 ? columns : [...columns].reverse();
    for (const col of order) {
      if (!col) continue;
      const key = new Map(col.map((v) => {
        const ns = neighbours.get(v);
        return [v, ns.length ? ns.reduce((acc, w) => acc + index.get(w), 0) / ns.length : index.get(v)];
      }));
      col.sort((a, b) => key.get(a) - key.get(b));
      reindex();
    }
  }
  const tallest = Math.max(...columns.map((c) => (c ? c.length : 0)), 1);
  const pos = new Map();
  columns.forEach((col, l) => {
    if (!col) return;
    const offset = ((tallest - col.length) * ROW) / 2;
    col.forEach((v, i) => pos.set(v, {x: PAD + l * COL, y: PAD + 22 + offset + i * ROW}));
  });
  return pos;
}

function countIn(edges, id) {
  return edges.filter((e) => e.callee === id && e.caller !== id).length;
}
