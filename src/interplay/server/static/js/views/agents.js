// Agent runs (from GenAI / OpenInference spans): the list, one run's steps (with what each said and
// got back), tools, tokens, cost and failure modes, and runs grouped by conversation / session.
import * as api from "../api.js";
import {add, chip, h, ms, notice, num, time, truncate} from "../dom.js";
import * as range from "../range.js";

export async function renderAgentRuns(root, _args, query) {
  const agent = query.get("agent") || "";
  const failed = query.get("failed") === "true";
  const {runs} = await api.get("/api/agents/runs", {...range.params(), agent, failed, limit: 200});
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Agent runs"),
    h("p", {class: "sub"}, `Newest first · ${range.label()} · `,
      h("a", {href: "#/agents/sessions", id: "sessions-link"}, "by session"))));
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
  add(root, h("section", {class: "card"}, form, runsTable(runs, "runs-table")));
}

function runsTable(runs, id) {
  return h("table", {class: "data", id},
    h("thead", {}, h("tr", {}, ["status", "agent", "started (UTC)", "duration", "steps", "tools", "tokens", "cost", "failure modes"]
      .map((t, i) => h("th", {class: [3, 4, 6, 7].includes(i) ? "n" : ""}, t)))),
    h("tbody", {}, runs.map((r) => h("tr", {class: r.status === "error" ? "error" : ""},
      h("td", {}, statusChip(r.status)),
      h("td", {}, h("a", {href: `#/agents/${encodeURIComponent(r.run_id)}`}, r.agent || "(unnamed agent)")),
      h("td", {class: "nowrap"}, time(r.started)),
      h("td", {class: "n"}, ms(r.duration_ms)),
      h("td", {class: "n"}, `${num(r.steps)}`, h("div", {class: "muted small"}, `${r.model_calls} model · ${r.tool_calls} tool`)),
      h("td", {}, (r.tools || []).slice(0, 4).map((t) => chip(t))),
      h("td", {class: "n"}, num(r.tokens?.total)),
      h("td", {class: "n"}, usd(r.cost?.usd)),
      h("td", {}, (r.failure_modes || []).map((f) => chip(f.mode.replace(/_/g, " "), "bad")))))));
}

function usd(v) {
  if (v === null || v === undefined) return "–";
  return v >= 1 ? `$${v.toFixed(2)}` : v === 0 ? "$0" : `$${v.toFixed(6).replace(/0+$/, "")}`;
}

export async function renderAgentSessions(root) {
  const {sessions} = await api.get("/api/agents/sessions", {...range.params(), limit: 200});
  add(root, h("div", {class: "page-head"},
    h("p", {class: "crumbs"}, h("a", {href: "#/agents"}, "← agent runs")),
    h("h1", {}, "Agent sessions"),
    h("p", {class: "sub"}, `Runs grouped by conversation / session id, most recently active first · ${range.label()}`)));
  if (!sessions.length) {
    add(root, h("section", {class: "card"}, notice("empty", "No sessions",
      "Sessions come from ", h("code", {}, "gen_ai.conversation.id"), " or OpenInference ",
      h("code", {}, "session.id"), " on agent spans.")));
    return;
  }
  add(root, h("section", {class: "card"}, h("table", {class: "data", id: "sessions-table"},
    h("thead", {}, h("tr", {}, ["session", "started (UTC)", "runs", "failed", "agents", "tokens", "cost", "failure modes"]
      .map((t, i) => h("th", {class: [2, 3, 5, 6].includes(i) ? "n" : ""}, t)))),
    h("tbody", {}, sessions.map((x) => h("tr", {class: x.failed_runs ? "error" : ""},
      h("td", {}, h("a", {href: `#/agents/sessions/${encodeURIComponent(x.session_id)}`}, x.session_id)),
      h("td", {class: "nowrap"}, time(x.started)),
      h("td", {class: "n"}, num(x.runs_count)), h("td", {class: "n"}, num(x.failed_runs)),
      h("td", {}, x.agents.map((a) => chip(a))),
      h("td", {class: "n"}, num(x.tokens)), h("td", {class: "n"}, usd(x.cost_usd)),
      h("td", {}, x.failure_modes.map((m) => chip(m.replace(/_/g, " "), "bad")))))))));
}

export async function renderAgentSession(root, [sessionId]) {
  const x = await api.get(`/api/agents/sessions/${encodeURIComponent(sessionId)}`);
  add(root, h("div", {class: "page-head"},
    h("p", {class: "crumbs"}, h("a", {href: "#/agents/sessions"}, "← sessions")),
    h("h1", {}, "Session ", h("span", {class: "mono"}, x.session_id)),
    h("p", {class: "sub"}, `${num(x.runs_count)} runs · ${num(x.failed_runs)} failed · ${num(x.tokens)} tokens · ${usd(x.cost_usd)}`)));
  add(root, h("section", {class: "card"}, h("h2", {}, "Runs in order"), runsTable(x.runs, "session-runs")));
  const diverged = x.runs.filter((r) => r.session_divergence);
  if (diverged.length) {
    add(root, h("section", {class: "card", id: "session-divergence"}, h("h2", {}, "Where failed runs left this session's successful runs"),
      h("ul", {}, diverged.map((r) => h("li", {},
        h("a", {href: `#/agents/${encodeURIComponent(r.run_id)}`}, r.agent), ` at step ${r.session_divergence.step}: `,
        h("code", {}, r.session_divergence.happened), " where they did ",
        r.session_divergence.expected.map((e) => h("code", {}, e.signature)))))));
  }
}

function statusChip(status) {
  return chip(status, status === "ok" ? "ok" : status === "error" ? "bad" : "warn");
}

export async function renderAgentRun(root, [runId], query) {
  const full = query && query.get("full") === "true";
  const run = await api.get(`/api/agents/runs/${encodeURIComponent(runId)}`, full ? {full: true} : {});
  const steps = run.steps_detail || [];
  add(root, h("div", {class: "page-head"},
    h("p", {class: "crumbs"}, h("a", {href: "#/agents"}, "← agent runs")),
    h("h1", {}, "Agent run: ", run.agent || "(unnamed agent)", " ", statusChip(run.status)),
    h("p", {class: "sub"}, `${time(run.started)} UTC · ${ms(run.duration_ms)} · ${num(run.steps)} steps · ` +
      `${num(run.model_calls)} model · ${num(run.tool_calls)} tool calls · ` +
      `${num(run.tokens?.total)} tokens (${num(run.tokens?.input)} in, ${num(run.tokens?.output)} out) · ${usd(run.cost?.usd)} · `,
      h("a", {href: `#/trace/${encodeURIComponent(run.trace_id)}`, id: "run-trace"}, "open trace"),
      run.conversation_id ? [" · session ", h("a", {href: `#/agents/sessions/${encodeURIComponent(run.conversation_id)}`,
        id: "run-session"}, run.conversation_id)] : null,
      run.user_id ? [" · user ", h("span", {class: "mono", id: "run-user"}, run.user_id)] : null),
    run.tags?.length || run.metadata ? h("p", {class: "sub", id: "run-labels"},
      (run.tags || []).map((t) => chip(t)),
      run.metadata ? h("span", {class: "mono small"}, ` ${JSON.stringify(run.metadata)}`) : null) : null,
    run.error ? h("p", {class: "bad", id: "run-error"}, run.error) : null,
    run.traceback ? h("details", {}, h("summary", {}, "traceback"), h("pre", {}, run.traceback)) : null));
  const modes = run.failure_modes || [];
  add(root, h("section", {class: "card"}, h("h2", {}, modes.length ? "Failure modes" : "No failure mode detected"),
    modes.length ? h("div", {class: "modes"}, modes.map((f) => h("div", {class: "mode"},
      h("div", {}, chip(f.mode.replace(/_/g, " "), "bad"), f.step !== undefined && f.step !== null ? h("span", {class: "muted"}, ` from step ${f.step}`) : null),
      h("p", {}, f.summary)))) : h("p", {class: "muted"}, "No loops, retry storms, timeouts or tool errors in this run.")));
  add(root, h("section", {class: "card"}, h("h2", {}, "Path"), pathStrip(run.path || [])));
  const maxDur = Math.max(...steps.map((st) => st.duration_ms || 0), 1);
  const cut = steps.some((st) => st.truncated);
  const allLink = cut && !full ? h("a", {href: `#/agents/${encodeURIComponent(runId)}?full=true`, id: "show-all"},
    "show all content") : null;
  add(root, h("section", {class: "card"}, h("h2", {}, `Steps (${steps.length})`, allLink ? " · " : "", allLink),
    h("table", {class: "data", id: "steps-table"},
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
    h("td", {}, h("strong", {}, st.name), st.arguments ? h("div", {class: "muted small mono"}, truncate(st.arguments, 120)) : null,
      st.error?.message ? h("div", {class: "bad small"}, st.error.message) : null, stepContent(st)),
    h("td", {class: "n"}, ms(st.duration_ms)), h("td", {class: "barcell"}, bar),
    h("td", {class: "n"}, st.tokens ? `${num(st.tokens.input)} / ${num(st.tokens.output)}` : "",
      st.cost ? h("div", {class: "muted small"}, usd(st.cost.usd)) : null),
    h("td", {}, statusChip(st.status), st.rate_limited ? chip("rate limited", "warn") : null,
      st.timeouts ? chip("timeout", "warn") : null, st.retries ? chip(`${st.retries} retries`, "warn") : null),
    h("td", {}, [...(st.downstream || []), ...(st.peers || [])].map((d) => chip(d))));
}

// What the step was given and gave back, folded: a preview line, the whole (as sent, cut at 2000
// characters per text unless ?full=true) when opened.
function stepContent(st) {
  const parts = [["in", st.input], ["out", st.output]].filter(([, v]) => v !== null && v !== undefined);
  if (!parts.length && !st.error?.traceback) return null;
  return h("details", {class: "content"}, h("summary", {class: "muted small"}, parts.map(([k, v]) => `${k}: ${preview(v)}`).join("  ·  ") || "traceback"),
    parts.map(([k, v]) => [h("div", {class: "muted small"}, k === "in" ? "input" : "output"),
      h("pre", {class: "content-body"}, typeof v === "string" ? v : JSON.stringify(v, null, 2))]),
    st.error?.traceback ? [h("div", {class: "muted small"}, "traceback"), h("pre", {class: "content-body"}, st.error.traceback)] : null);
}

function preview(v) {
  let text;
  if (Array.isArray(v) && v.length && typeof v[v.length - 1] === "object" && v[v.length - 1] !== null) {
    const last = v[v.length - 1];
    text = last.tool_calls ? last.tool_calls.map((t) => `${t.name}(${typeof t.arguments === "string" ? t.arguments : JSON.stringify(t.arguments)})`).join(", ")
      : `${last.role || ""}: ${typeof last.content === "string" ? last.content : JSON.stringify(last.content ?? "")}`;
  } else {
    text = typeof v === "string" ? v : JSON.stringify(v);
  }
  return truncate(text.replace(/\s+/g, " "), 80);
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
