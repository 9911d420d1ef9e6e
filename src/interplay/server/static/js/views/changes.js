// Change events on a timeline: one lane per service, deploys, config, flags, infra and commits by
// colour, the version or description beside each; the list below.
import * as api from "../api.js";
import {add, chip, h, s, time, toDate, truncate} from "../dom.js";
import * as range from "../range.js";

const KINDS = ["deploy", "config", "flag", "infra", "commit"];

export async function renderChanges(root, _args, query) {
  const service = query.get("service") || "";
  const changes = await api.get("/api/changes", {...range.params(), service, limit: 1000});
  add(root, h("div", {class: "page-head"}, h("h1", {}, "Changes"),
    h("p", {class: "sub"}, `Deploys, config, flags, infra and commits · ${range.label()}`,
      service ? [" · ", chip(service), " ", h("a", {href: "#/changes"}, "all services")] : null)));
  if (!changes.length) {
    add(root, h("section", {class: "card"}, h("p", {class: "muted empty-row"}, "No change events in this time range. Record one with ",
      h("code", {}, "interplay change add --service S --kind deploy -m \"v2\""), " or POST /v1/changes.")));
    return;
  }
  add(root, h("section", {class: "card", id: "change-timeline"},
    h("p", {class: "kind-legend"}, KINDS.map((k) => h("span", {}, h("i", {class: k}), k))), timeline(changes)));
  add(root, h("section", {class: "card"}, h("table", {class: "data", id: "changes-table"},
    h("thead", {}, h("tr", {}, ["time (UTC)", "service", "kind", "version", "description"].map((t) => h("th", {}, t)))),
    h("tbody", {}, changes.map((c) => h("tr", {},
      h("td", {class: "nowrap"}, time(c.time)),
      h("td", {}, h("a", {href: `#/service/${encodeURIComponent(c.service)}`}, c.service)),
      h("td", {}, chip(c.kind, c.kind === "deploy" ? "warn" : "")), h("td", {}, c.version || "–"),
      h("td", {}, c.description)))))));
}

function timeline(changes) {
  const lanes = [...new Set(changes.map((c) => c.service))].sort();
  const times = changes.map((c) => toDate(c.time).getTime());
  let t0 = Math.min(...times), t1 = Math.max(...times);
  const pad = Math.max((t1 - t0) * 0.04, 60000);
  t0 -= pad;
  t1 += pad;
  const width = 1200, left = 170, right = 20, laneH = 34, top = 24;
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
    svg.append(s("rect", {x: left - 6, y: y + 3, width: width - left - right + 12, height: laneH - 6, rx: 5, class: "lane-bg"}),
      s("text", {x: left - 12, y: y + laneH / 2 + 4, class: "lane-name", "text-anchor": "end"}, truncate(lane, 22)));
    let lastX = -Infinity;
    for (const c of changes.filter((ch) => ch.service === lane).sort((a, b) => a.time_ns - b.time_ns)) {
      const cx = x(toDate(c.time).getTime());
      const label = c.version || c.description;
      svg.append(s("g", {class: `change ${KINDS.includes(c.kind) ? c.kind : "infra"}`},
        s("title", {}, `${time(c.time)} UTC · ${c.kind} ${c.service}${c.version ? ` ${c.version}` : ""}: ${c.description}`),
        s("circle", {cx, cy: y + laneH / 2, r: 6}),
        // a label only where it does not run into the previous one
        cx - lastX > 90 ? s("text", {x: cx > width - 120 ? cx - 9 : cx + 9, y: y + laneH / 2 + 4,
          "text-anchor": cx > width - 120 ? "end" : "start"}, truncate(label, 14)) : null));
      lastX = cx - lastX > 90 ? cx : lastX;
    }
  });
  return svg;
}
