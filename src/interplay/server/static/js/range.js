// The time range shared by all views: a preset (last 15m … all) or explicit since/until.
import {h} from "./dom.js";

const KEY = "interplay.range";
export const PRESETS = [["15m", "Last 15 min"], ["1h", "Last hour"], ["6h", "Last 6 hours"],
  ["24h", "Last 24 hours"], ["all", "All data"], ["custom", "Custom…"]];
const MINUTES = {"15m": 15, "1h": 60, "6h": 360, "24h": 1440};

let state = load();
const listeners = new Set();

function load() {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "null");
    if (saved && PRESETS.some(([p]) => p === saved.preset)) return saved;
  } catch { /* a broken saved value: start over */ }
  return {preset: "all", since: "", until: ""};
}

export function onChange(fn) {
  listeners.add(fn);
}

export function setRange(next) {
  state = {...state, ...next};
  localStorage.setItem(KEY, JSON.stringify(state));
  listeners.forEach((fn) => fn(state));
}

/** {since, until} as the API takes them (RFC3339), empty for an open end. */
export function params() {
  if (state.preset === "custom") return {since: toIso(state.since), until: toIso(state.until)};
  const minutes = MINUTES[state.preset];
  if (!minutes) return {since: "", until: ""};
  const now = Date.now();
  return {since: new Date(now - minutes * 60000).toISOString(), until: new Date(now).toISOString()};
}

export function label() {
  if (state.preset === "custom") return `${state.since || "start"} → ${state.until || "now"}`;
  return PRESETS.find(([p]) => p === state.preset)[1];
}

export function isAll() {
  return state.preset === "all" || (state.preset === "custom" && !state.since && !state.until);
}

function toIso(text) {
  if (!text) return "";
  const t = text.trim();
  if (/^-|ago$|^now$|^\d+$/.test(t)) return t;  // the server understands these forms
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : `${t.replace(" ", "T")}Z`);
  return Number.isNaN(d.getTime()) ? t : d.toISOString();
}

/** The picker in the header. */
export function picker() {
  const select = h("select", {id: "range-preset", "aria-label": "Time range"},
    PRESETS.map(([value, text]) => h("option", {value, selected: value === state.preset}, text)));
  const since = h("input", {id: "range-since", type: "text", placeholder: "since (UTC, e.g. 2026-01-01 01:00)",
    value: state.since, "aria-label": "since"});
  const until = h("input", {id: "range-until", type: "text", placeholder: "until (empty: now)",
    value: state.until, "aria-label": "until"});
  const apply = h("button", {type: "submit"}, "Apply");
  const custom = h("form", {class: "range-custom", hidden: state.preset !== "custom"}, since, until, apply);
  select.addEventListener("change", () => {
    custom.hidden = select.value !== "custom";
    if (select.value !== "custom") setRange({preset: select.value});
    else since.focus();
  });
  custom.addEventListener("submit", (event) => {
    event.preventDefault();
    setRange({preset: "custom", since: since.value.trim(), until: until.value.trim()});
  });
  return h("div", {class: "range"}, h("span", {class: "range-icon", "aria-hidden": "true"}, "◷"), select, custom);
}
