// The single-page app: a hash router over the views, the shared time range, error display.
import {ApiError} from "./api.js";
import {add, clear, h, notice, spinner} from "./dom.js";
import * as range from "./range.js";
import {renderAgentRun, renderAgentRuns, renderAgentSession, renderAgentSessions} from "./views/agents.js";
import {renderInvestigate, renderInvestigation} from "./views/investigate.js";
import {renderServices, renderTraces} from "./views/lists.js";
import {renderChanges} from "./views/changes.js";
import {renderCompare} from "./views/compare.js";
import {renderLogs} from "./views/logs.js";
import {renderMap} from "./views/map.js";
import {renderService} from "./views/service.js";
import {renderTrace} from "./views/trace.js";

// [pattern, nav item, renderer(root, match, query)]
const ROUTES = [
  [/^\/map$/, "map", renderMap],
  [/^\/investigate$/, "investigate", renderInvestigate],
  [/^\/investigation\/([^/]+)$/, "investigate", renderInvestigation],
  [/^\/services$/, "services", renderServices],
  [/^\/service\/([^/]+)$/, "services", renderService],
  [/^\/changes$/, "changes", renderChanges],
  [/^\/traces$/, "traces", renderTraces],
  [/^\/trace\/([^/]+)$/, "traces", renderTrace],
  [/^\/compare\/([^/]+)\/([^/]+)$/, "traces", renderCompare],
  [/^\/logs$/, "logs", renderLogs],
  [/^\/agents$/, "agents", renderAgentRuns],
  [/^\/agents\/sessions$/, "agents", renderAgentSessions],
  [/^\/agents\/sessions\/([^/]+)$/, "agents", renderAgentSession],
  [/^\/agents\/([^/]+)$/, "agents", renderAgentRun],
];

let generation = 0;

async function route() {
  const hash = location.hash.replace(/^#/, "") || "/map";
  const [path, qs] = hash.split("?");
  const root = document.getElementById("view");
  const found = ROUTES.map(([re, nav, fn]) => [path.match(re), nav, fn]).find(([m]) => m);
  document.querySelectorAll("#nav a").forEach((a) => {
    a.classList.toggle("active", Boolean(found) && a.dataset.view === found[1]);
  });
  const mine = ++generation;
  add(clear(root), spinner());
  if (!found) {
    add(clear(root), notice("error", "No such page", `Nothing lives at #${path}. `,
      h("a", {href: "#/map"}, "Go to the service map")));
    return;
  }
  const [match, , render] = found;
  const args = match.slice(1).map(decodeURIComponent);
  // Views render into a detached container so a slow answer for a page left behind never shows.
  const container = h("div", {class: "page"});
  try {
    await render(container, args, new URLSearchParams(qs || ""));
  } catch (err) {
    add(clear(container), errorBox(err));
    if (!(err instanceof ApiError)) console.error(err);
  }
  if (mine === generation) add(clear(root), container);
}

export function errorBox(err) {
  if (err instanceof ApiError && err.status === 404) return notice("error", "Not found", err.message);
  if (err instanceof ApiError) return notice("error", "The server refused this request", err.message);
  return notice("error", "Something went wrong in the page", String(err && err.message ? err.message : err));
}

/** Re-render the current view (after the time range changed). */
export function refresh() {
  route();
}

document.getElementById("range-slot").append(range.picker());
range.onChange(refresh);
window.addEventListener("hashchange", route);
route();
