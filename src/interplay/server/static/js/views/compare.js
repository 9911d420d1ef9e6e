// A failing trace and a healthy one side by side: spans matched by their path of service · operation
// from the root, each side's duration and self time, and the span that differs most marked.
import * as api from "../api.js";
import {add, chip, h, ms, num} from "../dom.js";

export async function renderCompare(root, [left, right]) {
  const [a, b] = await Promise.all([api.get(`/api/traces/${encodeURIComponent(left)}`),
    api.get(`/api/traces/${encodeURIComponent(right)}`)]);
  const pa = paths(a), pb = paths(b);
  const keys = [...pa.keys(), ...[...pb.keys()].filter((k) => !pa.has(k))];
  const rows = keys.map((key) => diff(key, pa.get(key), pb.get(key)));
  const worst = mostDifferent(rows);
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Compare traces"),
    h("p", {class: "sub"}, "Spans matched by their path of service · operation from the root. ",
      worst ? ["The span that differs most: ", h("strong", {id: "differs-most"}, worst.label), ` (${worst.why}).`] : "No span differs.")));
  add(root, h("section", {class: "card"}, h("table", {class: "data compare", id: "compare-table"},
    h("thead", {},
      h("tr", {}, h("th", {}, "span"),
        h("th", {colspan: 3, class: "n"}, h("a", {href: `#/trace/${encodeURIComponent(a.trace_id)}`}, `left ${a.trace_id.slice(0, 8)}…`)),
        h("th", {colspan: 3, class: "n"}, h("a", {href: `#/trace/${encodeURIComponent(b.trace_id)}`}, `right ${b.trace_id.slice(0, 8)}…`)),
        h("th", {}, "")),
      h("tr", {class: "sub-head"}, h("th", {}, "service · operation"), ...["calls", "duration", "self", "calls", "duration", "self"]
        .map((t) => h("th", {class: "n"}, t)), h("th", {}, "difference"))),
    h("tbody", {}, rows.map((r) => h("tr", {class: `${r.score ? "differs" : ""}${r.key === worst?.key ? " most" : ""}`},
      h("td", {}, h("span", {class: "indent"}), h("span", {class: "svc"}, r.service), " ", r.operation),
      ...side(r.left), ...side(r.right),
      h("td", {}, r.why ? chip(r.why, r.score >= 1 ? "bad" : "warn") : ""))))),
  h("p", {class: "muted"}, `${num(a.spans)} spans left, ${num(b.spans)} right. Durations of repeated calls are summed.`)));
  root.querySelectorAll("#compare-table tbody tr").forEach((tr, i) => {
    tr.querySelector(".indent").style.width = `${rows[i].depth * 14}px`;
  });
}

/** The span where the time went: the largest self-time difference (at least 5 ms), else the deepest
 * error that one side has and the other not (errors propagate up, so the deepest is where it began). */
function mostDifferent(rows) {
  const selfMs = (x) => (x ? x.self / 1e6 : 0);
  let best = null, bestGap = 5;
  for (const r of rows) {
    const gap = Math.abs(selfMs(r.left) - selfMs(r.right));
    if (gap >= bestGap) {
      best = r;
      bestGap = gap;
    }
  }
  if (best) return best.why ? best : {...best, why: `self time ${ms(selfMs(best.left))} vs ${ms(selfMs(best.right))}`};
  const errors = rows.filter((r) => r.score === 2);
  return errors.length ? errors.reduce((a, b) => (b.depth > a.depth ? b : a)) : null;
}

function side(x) {
  if (!x) return [h("td", {class: "n muted"}, "–"), h("td", {class: "n muted"}, "absent"), h("td", {class: "n muted"}, "")];
  return [h("td", {class: "n"}, num(x.calls)),
    h("td", {class: `n${x.errors ? " bad" : ""}`}, ms(x.duration / 1e6), x.errors ? " ✗" : ""),
    h("td", {class: "n self-num"}, ms(x.self / 1e6))];
}

/** path key → {service, operation, depth, calls, errors, duration, self}, in tree order. */
function paths(trace) {
  const out = new Map();
  const walk = (node, prefix, depth) => {
    const key = `${prefix}/${node.service}\u0000${node.operation}`;
    const x = out.get(key) || {service: node.service, operation: node.operation, depth, calls: 0, errors: 0, duration: 0, self: 0};
    x.calls += 1;
    x.errors += node.status_code === "ERROR" ? 1 : 0;
    x.duration += node.duration_ns;
    x.self += node.self_ns;
    out.set(key, x);
    node.children.slice().sort((p, q) => p.start_ns - q.start_ns).forEach((c) => walk(c, key, depth + 1));
  };
  trace.roots.forEach((r) => walk(r, "", 0));
  return out;
}

/** How much one path differs: an error on one side only, present on one side only, or self time ×2. */
function diff(key, left, right) {
  const x = left || right;
  const row = {key, service: x.service, operation: x.operation, depth: x.depth, left, right, score: 0, why: "",
    label: `${x.service} ${x.operation}`};
  if (!left || !right) return {...row, score: 0.5, why: left ? "only on the left" : "only on the right"};
  if (Boolean(left.errors) !== Boolean(right.errors)) return {...row, score: 2, why: `error on the ${left.errors ? "left" : "right"} only`};
  const a = left.self / 1e6, b = right.self / 1e6;
  const ratio = Math.max(a, b) / Math.max(Math.min(a, b), 0.01);
  if (ratio >= 2 && Math.abs(a - b) >= 5) {
    return {...row, score: 1 + Math.min(Math.abs(a - b) / 1000, 0.9), why: `self time ${ms(a)} vs ${ms(b)}`};
  }
  if (left.calls !== right.calls) return {...row, score: 0.3, why: `${left.calls} vs ${right.calls} calls`};
  return row;
}
