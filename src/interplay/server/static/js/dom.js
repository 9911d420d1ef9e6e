// DOM building without HTML strings: telemetry is untrusted, so every string becomes a text node
// or an attribute value set through the DOM, never markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key === "href") {
      el.setAttribute("href", safeHref(value));
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** An HTML element: h("a", {href: "#/x", class: "c"}, "text", otherNode). */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** An SVG element, same signature as h. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

/** Only in-app links (#/...) and same-origin paths; anything else (javascript:, data:) is dropped. */
function safeHref(value) {
  const text = String(value);
  return text.startsWith("#/") || (text.startsWith("/") && !text.startsWith("//")) ? text : "#/";
}

/** Append children to el: arrays flattened, null/undefined/false skipped, strings as text. */
export function add(el, ...children) {
  return append(el, children);
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// -- formatting ---------------------------------------------------------------------------------
export function ms(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (value >= 10000) return `${(value / 1000).toFixed(1)} s`;
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${Math.round(value)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

export function pct(value) {
  if (value === null || value === undefined) return "–";
  const p = value * 100;
  if (p === 0) return "0%";
  if (p < 0.1) return "<0.1%";
  return p >= 10 ? `${p.toFixed(0)}%` : `${p.toFixed(1)}%`;
}

export function rate(value) {
  if (value === null || value === undefined) return "–";
  if (value >= 100) return `${Math.round(value)}/s`;
  if (value >= 10) return `${value.toFixed(1)}/s`;
  return `${value.toFixed(2)}/s`;
}

/** "1 change", "3 changes", "1,204 traces": a count and its noun, singular when one. */
export function plural(n, noun, many = `${noun}s`) {
  return `${num(n)} ${Number(n) === 1 ? noun : many}`;
}

export function num(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US");
}

/** Unix ns (number or string) or an RFC3339 string → "2026-01-01 01:12:15" (UTC). */
export function time(value) {
  const date = toDate(value);
  return date ? date.toISOString().replace("T", " ").slice(0, 19) : "–";
}

export function toDate(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return new Date(value / 1e6);
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function truncate(text, max) {
  const t = String(text ?? "");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** A small coloured label. */
export function chip(text, kind = "") {
  return h("span", {class: `chip ${kind}`}, text);
}

/** A friendly box for "nothing here" and "something went wrong". */
export function notice(kind, title, ...body) {
  return h("div", {class: `notice ${kind}`, role: kind === "error" ? "alert" : "status"},
    h("strong", {}, title), body.length ? h("div", {class: "notice-body"}, ...body) : null);
}

export function spinner(label = "Loading…") {
  return h("div", {class: "loading", role: "status"}, h("span", {class: "spin"}), label);
}
