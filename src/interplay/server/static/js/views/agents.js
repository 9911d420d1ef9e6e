// Agent runs (from GenAI / OpenInference spans): the list, and one run's steps, tools, tokens and
// failure modes.
import * as api from "../api.js";
import {add, chip, h, ms, notice, num, time, truncate} from "../dom.js";
import * as range from "../range.js";

export async function renderAgentRuns(root, _args, query) {
  const agent = query.get("agent") || "";
  const failed = query.get("failed") === "true";
  const {runs} = await api.get("/api/agents/runs", {...range.params(), agent, failed, limit: 200});
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Agent runs"),
    h("p", {class: "sub"}, `Newest first · ${range.label()}`)));
  const agentInput = h("input", {name: "agent", id: "agent-filter", placeholder: "agent name", value: agent});
  const failedBox = h("input", {type: "checkbox", id: "agent-failed", checked: failed});
  const form = h("form", {class: "filters"}, agentInput, h("label", {class: "check"}, failedBox, " failed only"),
    h("button", {type: "submit"}, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (agentInput.value.trim()) q.set("agent", agentInput.value.trim());
    if (failedBox.checked) q.set("failed", "true");
    location.hash = `#/agents${q.toString() ? `?${q}` : ""}`;
  });
  if (!runs.length) {
    add(root, h("section", {class: "card"}, form, notice("empty", agent || failed ? "No agent run matches" : "No agent runs yet",
      "Agent runs come from spans following the OpenTelemetry GenAI conventions (",
      h("code", {}, "gen_ai.operation.name"), ", ", h("code", {}, "invoke_agent"), ") or OpenInference (",
      h("code", {}, "openinference.span.kind"), ").")));
    return;
  }
  add(root, h("section", {class: "card"}, form, h("table", {class: "data", id: "runs-table"},
    h("thead", {}, h("tr", {}, ["status", "agent", "started (UTC)", "duration", "steps", "tools", "tokens", "failure modes"]
      .map((t, i) => h("th", {class: [3, 4, 6].includes(i) ? "n" : ""}, t)))),
    h("tbody", {}, runs.map((r) => h("tr", {class: r.status === "error" ? "error" : ""},
      h("td", {}, statusChip(r.status)),
      h("td", {}, h("a", {href: `#/agents/${encodeURIComponent(r.run_id)}`}, r.agent || "(unnamed agent)")),
      h("td", {class: "nowrap"}, time(r.started)),
      h("td", {class: "n"}, ms(r.duration_ms)),
      h("td", {class: "n"}, `${num(r.steps)}`, h("div", {class: "muted small"}, `${r.model_calls} model · ${r.tool_calls} tool`)),
      h("td", {}, (r.tools || []).slice(0, 4).map((t) => chip(t))),
      h("td", {class: "n"}, num(r.tokens?.total)),
      h("td", {}, (r.failure_modes || []).map((f) => chip(f.mode.replace(/_/g, " "), "bad")))))))));
}

function statusChip(status) {
  return chip(status, status === "ok" ? "ok" : status === "error" ? "bad" : "warn");
}

export async function renderAgentRun(root, [runId]) {
  const run = await api.get(`/api/agents/runs/${encodeURIComponent(runId)}`);
  const steps = run.steps_detail || [];
  add(root, h("div", {class: "page-head"},
    h("p", {class: "crumbs"}, h("a", {href: "#/agents"}, "← agent runs")),
    h("h1", {}, "Agent run: ", run.agent || "(unnamed agent)", " ", statusChip(run.status)),
    h("p", {class: "sub"}, `${time(run.started)} UTC · ${ms(run.duration_ms)} · ${num(run.steps)} steps · ` +
      `${num(run.tokens?.total)} tokens (${num(run.tokens?.input)} in, ${num(run.tokens?.output)} out) · `,
      h("a", {href: `#/trace/${encodeURIComponent(run.trace_id)}`, id: "run-trace"}, "open trace")),
    run.error ? h("p", {class: "bad"}, run.error) : null));
  const modes = run.failure_modes || [];
  add(root, h("section", {class: "card"}, h("h2", {}, modes.length ? "Failure modes" : "No failure mode detected"),
    modes.length ? h("div", {class: "modes"}, modes.map((f) => h("div", {class: "mode"},
      h("div", {}, chip(f.mode.replace(/_/g, " "), "bad"), f.step !== undefined && f.step !== null ? h("span", {class: "muted"}, ` from step ${f.step}`) : null),
      h("p", {}, f.summary)))) : h("p", {class: "muted"}, "No loops, retry storms, timeouts or tool errors in this run.")));
  add(root, h("section", {class: "card"}, h("h2", {}, "Path"), pathStrip(run.path || [])));
  const maxDur = Math.max(...steps.map((st) => st.duration_ms || 0), 1);
  add(root, h("section", {class: "card"}, h("h2", {}, `Steps (${steps.length})`), h("table", {class: "data", id: "steps-table"},
    h("thead", {}, h("tr", {}, ["#", "kind", "step", "duration", "", "tokens in / out", "status", "reached"]
      .map((t, i) => h("th", {class: [3, 5].includes(i) ? "n" : ""}, t)))),
    h("tbody", {}, foldSteps(steps).map((g) => (g.n > 1 ? stepGroup(g, maxDur) : stepRow(g.steps[0], maxDur)))))));
}

/** Steps in runs: a step repeated, or a pair of steps repeated (a model call and its tool call), folds into one. */
function foldSteps(steps) {
  const key = (st) => `${st.kind}:${st.name}`;
  const groups = [];
  let i = 0;
  while (i < steps.length) {
    let best = {width: 1, n: 1};
    for (const width of [1, 2]) {
      let n = 1;
      while (i + (n + 1) * width <= steps.length &&
        steps.slice(i + n * width, i + (n + 1) * width).every((st, k) => key(st) === key(steps[i + k]))) n++;
      if (n >= 3 && n * width > best.n * best.width) best = {width, n};
    }
    groups.push({n: best.n, width: best.width, steps: steps.slice(i, i + best.n * best.width)});
    i += best.n * best.width;
  }
  return groups;
}

function stepGroup(g, maxDur) {
  const label = g.steps.slice(0, g.width).map((st) => st.name).join(" → ");
  const members = g.steps.map((st) => stepRow(st, maxDur, st.status === "ok"));  // failures stay in sight
  const failed = g.steps.filter((st) => st.status !== "ok").length;
  const total = g.steps.reduce((s, st) => s + (st.duration_ms || 0), 0);
  const toggle = h("button", {type: "button", class: "fold", "aria-expanded": "false"}, "▸");
  const head = h("tr", {class: "step-group", tabindex: 0},
    h("td", {class: "muted"}, `${g.steps[0].index}–${g.steps[g.steps.length - 1].index}`),
    h("td", {}, toggle), h("td", {}, h("strong", {}, label), h("b", {class: "times"}, ` ×${g.n}`),
      h("div", {class: "muted small"}, `${g.steps.length} steps folded: click to show them`)),
    h("td", {class: "n"}, ms(total)), h("td", {}),
    h("td", {}), h("td", {}, failed ? chip(`${failed} failed`, "bad") : chip("ok", "ok")), h("td", {}));
  const flip = () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "▾" : "▸";
    members.forEach((row) => { row.hidden = !open; });
  };
  head.addEventListener("click", flip);
  head.addEventListener("keydown", (ev) => ev.key === "Enter" && flip());
  return [head, members];
}

function stepRow(st, maxDur, folded = false) {
  const bar = h("div", {class: `minibar${st.status !== "ok" ? " err" : ""}`});
  bar.style.width = `${Math.max(((st.duration_ms || 0) / maxDur) * 100, 1)}%`;
  return h("tr", {class: `${st.status !== "ok" ? "error" : ""}${folded ? " in-group" : ""}`, hidden: folded},
    h("td", {class: "muted"}, String(st.index)),
    h("td", {}, chip(st.kind, st.kind === "tool" ? "tool" : st.kind === "llm" ? "llm" : "")),
    h("td", {}, h("strong", {}, st.name), st.arguments ? h("div", {class: "muted small mono"}, truncate(st.arguments, 120)) : null),
    h("td", {class: "n"}, ms(st.duration_ms)), h("td", {class: "barcell"}, bar),
    h("td", {class: "n"}, st.tokens ? `${num(st.tokens.input)} / ${num(st.tokens.output)}` : ""),
    h("td", {}, statusChip(st.status), st.rate_limited ? chip("rate limited", "warn") : null,
      st.timeouts ? chip("timeout", "warn") : null, st.retries ? chip(`${st.retries} retries`, "warn") : null),
    h("td", {}, [...(st.downstream || []), ...(st.peers || [])].map((d) => chip(d))));
}

function pathStrip(path) {
  if (!path.length) return h("p", {class: "muted"}, "No steps.");
  // collapse repeats so a 128-step loop reads as "chat:x → tool:y ×64"
  const groups = [];
  let i = 0;
  while (i < path.length) {
    const a = path[i], b = path[i + 1];
    let n = 1;
    if (b !== undefined && a !== b) {
      while (path[i + 2 * n] === a && path[i + 2 * n + 1] === b) n++;
      if (n > 1) {
        groups.push({label: `${a} → ${b}`, n, loop: true});
        i += 2 * n;
        continue;
      }
    }
    n = 1;
    while (path[i + n] === a) n++;
    groups.push({label: a, n, loop: n > 1});
    i += n;
  }
  return h("ol", {class: "path"}, groups.slice(0, 40).map((g) =>
    h("li", {class: `${g.label.startsWith("tool:") ? "tool" : "llm"}${g.loop ? " loop" : ""}`},
      g.label, g.n > 1 ? h("b", {}, ` ×${g.n}`) : null)),
  groups.length > 40 ? h("li", {class: "more"}, `… ${groups.length - 40} more`) : null);
}
