// samlite console: plain JavaScript, no build step, no dependencies.
// Everything that comes from functions, queues or templates is written with text nodes
// (el() below), never as HTML, so a "<script>" in a log line stays text.
"use strict";

const BASE = "/_samlite/console";
let live = null;        // the EventSource of the current page
let onPulse = null;     // the current page's pulse handler
let pageToken = 0;      // increments on navigation; late answers of old pages are dropped

// --- DOM helpers ------------------------------------------------------------------------------
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const kid of kids.flat()) {
    if (kid == null) continue;
    e.append(kid instanceof Node ? kid : String(kid));  // strings become text nodes
  }
  return e;
}

function table(columns, rows, attrs) {
  return el("table", attrs,
    el("thead", null, el("tr", null, columns.map((c) => el("th", null, c)))),
    el("tbody", null, rows.map((r) => el("tr", null, r.map((v) => el("td", null, v == null ? "" : v))))));
}

function fmtIso(iso) { return iso ? new Date(iso).toLocaleString() : ""; }
function fmtTime(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; }
function fmtJson(text) { try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; } }
function link(href, text) { return el("a", { href }, text); }

// --- requests -----------------------------------------------------------------------------------
async function api(path, options) {
  const opts = Object.assign({ credentials: "same-origin" }, options || {});
  if (opts.body !== undefined) opts.headers = { "Content-Type": "application/json" };
  const resp = await fetch(BASE + path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = { error: `HTTP ${resp.status}` }; }
  if (!resp.ok) throw new Error((data && data.error) || `HTTP ${resp.status}`);
  return data;
}
const post = (path, body) => api(path, { method: "POST", body: body === undefined ? "" : body });

function openLive(query) {
  if (live) live.close();
  live = new EventSource(BASE + "/api/live" + (query ? "?" + new URLSearchParams(query) : ""));
  const dot = document.getElementById("live");
  live.onopen = () => dot.classList.remove("off");
  live.onerror = () => dot.classList.add("off");
  live.addEventListener("pulse", (ev) => {
    const pulse = JSON.parse(ev.data);
    updateNav(pulse);
    if (onPulse) onPulse(pulse);
  });
  return live;
}

// --- charts (inline SVG) --------------------------------------------------------------------------
const SVG = "http://www.w3.org/2000/svg";
function chart(title, series, fmt) {
  const w = 300, h = 80;
  const values = series.flatMap((s) => s.values.filter((v) => v != null));
  const max = Math.max(1e-9, ...values);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  series.forEach((s, i) => {
    const n = Math.max(1, s.values.length - 1);
    const pts = s.values.map((v, j) => `${(j / n) * w},${h - 2 - ((v || 0) / max) * (h - 6)}`).join(" ");
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", pts);
    line.setAttribute("class", "s" + i);
    svg.append(line);
  });
  const label = series.map((s) => `${s.name} ${fmt(s.values.filter((v) => v != null).slice(-1)[0] || 0)}`).join(" · ");
  return el("div", { class: "chart" }, el("div", { class: "title" }, `${title} — max ${fmt(max)} — last ${label}`), svg);
}
const fmtN = (v) => (Math.round(v * 100) / 100).toString();
const fmtUsd = (v) => "$" + v.toPrecision(3);

// --- navigation -----------------------------------------------------------------------------------
async function refreshNav() {
  const data = await api("/api/overview");
  const fns = document.getElementById("nav-functions");
  fns.replaceChildren(...data.functions.map((f) =>
    el("li", null, link(`#/functions/${encodeURIComponent(f.name)}`, f.logical_id || f.name))));
  const qs = document.getElementById("nav-queues");
  qs.replaceChildren(...data.queues.map((q) =>
    el("li", { "data-queue": q.name }, link(`#/queues/${encodeURIComponent(q.name)}`, q.logical_id || q.name),
      el("span", { class: "count" }, q.visible))));
  return data;
}

function updateNav(pulse) {
  for (const q of pulse.queues) {
    const li = document.querySelector(`#nav-queues li[data-queue="${CSS.escape(q.name)}"] .count`);
    if (li) li.textContent = q.visible;
  }
}

async function route() {
  const token = ++pageToken;
  onPulse = null;
  const main = document.getElementById("main");
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const page = parts[0] || "stacks";
  document.querySelectorAll("header nav a").forEach((a) => a.classList.toggle("active", a.hash === "#/" + page));
  try {
    await refreshNav();
    let view;
    if (page === "functions" && parts[1]) view = await functionPage(parts[1]);
    else if (page === "functions") view = await listPage("functions");
    else if (page === "queues" && parts[1]) view = await queuePage(parts[1]);
    else if (page === "queues") view = await listPage("queues");
    else if (page === "async") view = await asyncPage();
    else if (page === "executions" && parts[1]) view = await executionPage(parts[1]);
    else if (page === "executions") view = await executionsPage();
    else if (page === "data" && parts[1] === "buckets" && parts[2]) view = await bucketPage(parts[2]);
    else if (page === "data" && parts[1] === "tables" && parts[2]) view = await tablePage(parts[2]);
    else if (page === "data") view = await dataPage();
    else view = await stacksPage();
    if (token !== pageToken) return;
    main.replaceChildren(view);
  } catch (e) {
    if (token === pageToken) main.replaceChildren(el("p", { class: "err" }, e.message));
  }
}

// --- pages: stacks ----------------------------------------------------------------------------------
async function stacksPage() {
  openLive();
  const stacks = await api("/api/stacks");
  if (!stacks.length) return el("div", null, el("h2", null, "Stacks"), el("p", null, "Nothing deployed yet: run `samlite deploy`."));
  return el("div", { id: "stacks" }, el("h2", null, "Stacks"), stacks.map(stackCard));
}

function stackCard(s) {
  const resources = table(["logical id", "type", "physical id", "state", "status"], s.resources.map((r) =>
    [r.logical_id, r.type, r.physical_id, r.emulated ? "emulated" : "skipped", r.status]));
  const outputs = table(["key", "value", "description"], s.outputs.map((o) => [o.key, o.value, o.description]));
  const changes = s.last_change_set
    ? table(["action", "logical id", "type"], s.last_change_set.changes.map((c) => [c.action, c.logical_id, c.type]))
    : el("p", { class: "muted" }, "No deploy of this stack since the engine started.");
  return el("div", { class: "card stack" },
    el("h3", null, `${s.stack} `, el("span", { class: "muted" }, `${s.status} · updated ${s.updated}`)),
    el("h3", null, "Resources"), resources,
    el("h3", null, "Outputs"), outputs,
    el("h3", null, "Endpoints"), s.endpoints.length ? s.endpoints.map(endpointCard) : el("p", { class: "muted" }, "none"),
    el("h3", null, "Last change set"), changes);
}

function endpointCard(e) {
  const base = new URL(e.url).pathname;  // same origin as the console: the gateway port
  const routes = (e.routes || []).map((r) => tryIt(base, r));
  return el("div", null, el("p", null, `${e.resource} (${e.kind}) `, el("code", null, e.url)),
    routes.length ? routes : el("p", null, link(e.url, "open")));
}

function tryIt(base, routeKey) {
  const [method, path] = routeKey.split(" ");
  const methodSel = el("select", null, (method === "ANY" ? ["GET", "POST", "PUT", "DELETE", "PATCH"] : [method])
    .map((m) => el("option", null, m)));
  const pathIn = el("input", { type: "text", value: path.replace(/^\//, "") });
  const body = el("textarea", { placeholder: "request body (optional)", rows: 3 });
  const out = el("pre", { class: "try-result" }, "");
  const send = async () => {
    out.textContent = "…";
    const m = methodSel.value;
    try {
      const resp = await fetch(base + pathIn.value.replace(/^\//, ""), {
        method: m, body: ["GET", "HEAD"].includes(m) || !body.value ? undefined : body.value,
        credentials: "omit",
      });
      const text = await resp.text();
      const headers = [...resp.headers.entries()].map(([k, v]) => `${k}: ${v}`).join("\n");
      out.textContent = `HTTP ${resp.status}\n${headers}\n\n${fmtJson(text)}`;
    } catch (e) { out.textContent = String(e); }
  };
  return el("details", { class: "try" }, el("summary", null, routeKey),
    el("div", null, methodSel, " ", el("code", null, base), pathIn, " ", el("button", { onclick: send }, "Send")),
    body, out);
}

// --- pages: lists -------------------------------------------------------------------------------------
async function listPage(kind) {
  openLive();
  const data = await api("/api/overview");
  if (kind === "functions") {
    return el("div", null, el("h2", null, "Functions"), table(["function", "stack", "runtime", "memory", "timeout"],
      data.functions.map((f) => [link(`#/functions/${encodeURIComponent(f.name)}`, f.name), f.stack, f.runtime,
        f.memory_size, f.timeout])));
  }
  return el("div", null, el("h2", null, "Queues"), table(["queue", "stack", "visible", "in flight", "delayed"],
    data.queues.map((q) => [link(`#/queues/${encodeURIComponent(q.name)}`, q.name), q.stack, q.visible, q.in_flight, q.delayed])));
}

// --- pages: a function ---------------------------------------------------------------------------------
function invocationRow(i) {
  return el("tr", null, [fmtTime(i.timestamp_ms), i.source, i.duration_ms, i.billed_ms, i.memory_size,
    i.max_memory_mb, i.cold ? "cold" : "warm", el("span", { class: i.status }, i.status), i.request_id]
    .map((v) => el("td", null, v)));
}

function chartsOf(c) {
  return [
    chart("Invocations", [{ name: "n", values: c.invocations }], fmtN),
    chart("Errors", [{ name: "n", values: c.errors }], fmtN),
    chart("Throttles", [{ name: "n", values: c.throttles }], fmtN),
    chart("Duration ms (p50, p99)", [{ name: "p50", values: c.p50 }, { name: "p99", values: c.p99 }], fmtN),
    chart("Concurrency", [{ name: "max", values: c.concurrency }], fmtN),
    chart("Cost (USD)", [{ name: "", values: c.cost_usd }], fmtUsd),
  ];
}

async function functionPage(name) {
  const path = `/api/functions/${encodeURIComponent(name)}`;
  const [data, logs] = await Promise.all([api(path), api(path + "/logs")]);
  const conf = data.configuration;
  const env = (conf.Environment && conf.Environment.Variables) || {};
  const confRows = [["Runtime", conf.Runtime], ["Handler", conf.Handler], ["Memory (MB)", conf.MemorySize],
    ["Timeout (s)", conf.Timeout], ["Architectures", (conf.Architectures || []).join(", ")], ["ARN", conf.FunctionArn],
    ...Object.entries(env).map(([k, v]) => ["env " + k, v])];
  const charts = el("div", { class: "charts", id: "charts" }, chartsOf(data.charts));
  const invBody = el("tbody", null, data.invocations.map(invocationRow));
  const invocations = el("table", { id: "invocations" }, el("thead", null, el("tr", null,
    ["time", "source", "duration ms", "billed ms", "memory MB", "max used MB", "start", "status", "request id"]
      .map((c) => el("th", null, c)))), invBody);
  const tail = el("pre", { id: "log-tail" });
  const addLines = (lines) => {
    const stick = tail.scrollTop + tail.clientHeight >= tail.scrollHeight - 4;
    for (const l of lines) tail.append(el("div", null, `${fmtTime(l.timestamp)}  ${l.message}`));
    while (tail.childNodes.length > 1000) tail.firstChild.remove();
    if (stick) tail.scrollTop = tail.scrollHeight;
  };
  addLines(logs);

  // invoke form with the generate-event samples
  const payload = el("textarea", { id: "invoke-payload", rows: 8 }, "{}");
  const result = el("pre", { id: "invoke-result" }, "");
  const samples = el("select", { id: "invoke-sample" }, el("option", { value: "" }, "sample event…"));
  api("/api/samples").then((all) => {
    for (const [key, value] of Object.entries(all)) samples.append(el("option", { value: JSON.stringify(value, null, 2) }, key));
  }).catch(() => {});
  samples.addEventListener("change", () => { if (samples.value) payload.value = samples.value; });
  const invoke = async () => {
    try { JSON.parse(payload.value || "{}"); } catch (e) { result.textContent = "The payload is not valid JSON: " + e.message; return; }
    result.textContent = "invoking…";
    try {
      const r = await post(path + "/invoke", payload.value);
      result.textContent = `status ${r.status_code}${r.function_error ? " · " + r.function_error + " " + (r.error_type || "") : ""}`
        + ` · request ${r.request_id}\n\n${fmtJson(r.payload)}\n\n${r.log_tail}`;
    } catch (e) { result.textContent = "Error: " + e.message; }
  };

  let chartTimer = null;
  const refreshCharts = () => {
    if (chartTimer) return;
    chartTimer = setTimeout(async () => {
      chartTimer = null;
      try { charts.replaceChildren(...chartsOf(await api(path + "/charts"))); } catch (e) { /* next tick retries */ }
    }, 1000);
  };
  const lastLog = logs.length ? logs[logs.length - 1].id : data.log_cursor;
  const es = openLive({ function: name, metrics_after: data.metrics_cursor, log_after: lastLog });
  es.addEventListener("invocations", (ev) => {
    for (const i of JSON.parse(ev.data)) invBody.prepend(invocationRow(i));
    while (invBody.childNodes.length > 200) invBody.lastChild.remove();
    refreshCharts();
  });
  es.addEventListener("logs", (ev) => addLines(JSON.parse(ev.data)));
  es.addEventListener("skipped", () => tail.append(el("div", { class: "muted" },
    "… lines skipped: the function logs faster than a page can show (`samlite logs` has them all)")));

  // A durable function's executions, redrawn when it runs again (every replay is an invocation).
  let durable = null, redrawExecutions = null;
  if (conf.DurableConfig) {
    durable = el("div", { id: "function-executions" });
    redrawExecutions = async () => {
      const d = await api(`/api/executions?` + new URLSearchParams({ function: name }));
      durable.replaceChildren(executionsTable(d.executions, false, d.limit));
    };
    await redrawExecutions();
  }
  es.addEventListener("invocations", () => { if (redrawExecutions) redrawExecutions().catch(() => {}); });

  const mappings = data.mappings.length ? table(["source", "state", "batch size"],
    data.mappings.map((m) => [m.EventSourceArn, m.State, m.BatchSize])) : el("p", { class: "muted" }, "none");
  return el("div", { id: "function" },
    el("h2", null, name),
    el("div", { class: "row" },
      el("div", { class: "card", style: null }, el("h3", null, "Configuration"), table(["setting", "value"], confRows)),
      el("div", { class: "card" }, el("h3", null, "Event source mappings"), mappings)),
    el("h3", null, "Last 15 minutes"), charts,
    el("div", { class: "card" }, el("h3", null, "Invoke"), samples, payload,
      el("button", { id: "invoke-button", onclick: invoke }, "Invoke"), result),
    durable ? el("div", { class: "card" }, el("h3", null, "Durable executions ",
      el("span", { class: "muted" }, `(ExecutionTimeout ${conf.DurableConfig.ExecutionTimeout} s)`)), durable) : null,
    el("h3", null, "Live log tail"), tail,
    el("h3", null, "Recent invocations"), invocations);
}

// --- pages: a queue ----------------------------------------------------------------------------------
async function queuePage(name) {
  const path = `/api/queues/${encodeURIComponent(name)}`;
  const q = await api(path);
  const stat = (id, label, v) => el("div", { class: "stat" }, el("b", { id }, v), el("span", null, label));
  const stats = el("div", null, stat("queue-visible", "visible", q.visible), stat("queue-in-flight", "in flight", q.in_flight),
    stat("queue-delayed", "delayed", q.delayed));
  const history = q.history.slice();
  const chartBox = el("div", { class: "charts" });
  const drawChart = () => chartBox.replaceChildren(chart("Messages (visible, in flight, delayed)", [
    { name: "visible", values: history.map((h) => h[1]) }, { name: "in flight", values: history.map((h) => h[2]) },
    { name: "delayed", values: history.map((h) => h[3]) }], fmtN));
  drawChart();
  onPulse = (pulse) => {
    const now = pulse.queues.find((x) => x.name === name);
    if (!now) return;
    document.getElementById("queue-visible").textContent = now.visible;
    document.getElementById("queue-in-flight").textContent = now.in_flight;
    document.getElementById("queue-delayed").textContent = now.delayed;
    history.push([pulse.t, now.visible, now.in_flight, now.delayed]);
    if (history.length > 600) history.shift();
    drawChart();
  };
  openLive();

  const peekBox = el("div", { id: "peek" });
  const peek = async () => {
    const msgs = await api(path + "/messages?limit=20");
    peekBox.replaceChildren(msgs.length ? table(["message id", "state", "receives", "sent", "body"],
      msgs.map((m) => [m.message_id, m.state, m.receive_count, fmtTime(m.sent_ms), el("code", null, m.body + (m.truncated ? "…" : ""))]))
      : el("p", { class: "muted" }, "The queue is empty."));
  };
  const body = el("textarea", { id: "send-body", rows: 4, placeholder: "message body" });
  const status = el("p", { id: "queue-status", class: "muted" }, "");
  const act = async (fn) => {
    try { status.textContent = await fn(); status.className = "ok"; } catch (e) { status.textContent = e.message; status.className = "err"; }
  };
  const send = () => act(async () => `sent ${(await post(path + "/send", JSON.stringify({ body: body.value }))).MessageId}`);
  const purgeBtn = el("button", { id: "purge-button" }, "Purge");
  purgeBtn.addEventListener("click", () => {
    if (purgeBtn.dataset.armed !== "1") { purgeBtn.dataset.armed = "1"; purgeBtn.textContent = "Click again to purge"; return; }
    purgeBtn.dataset.armed = ""; purgeBtn.textContent = "Purge";
    act(async () => { await post(path + "/purge"); return "purged"; });
  });
  const redrive = q.dead_letter_sources.length ? el("button", { id: "redrive-button", onclick: () => act(async () => {
    const r = await post(path + "/redrive", JSON.stringify({}));
    return `moved ${r.moved} message(s) back to ${r.to}`;
  }) }, `Redrive to ${q.dead_letter_sources.join(", ")}`) : null;
  const mappings = q.mappings.length ? table(["function", "state", "batch size", "invocations / min"],
    q.mappings.map((m) => [m.FunctionArn.split(":").pop(), m.State, m.BatchSize, m.invocations_per_min]))
    : el("p", { class: "muted" }, "No function reads this queue.");
  const attrs = table(["attribute", "value"], Object.entries(q.attributes));
  await peek();
  return el("div", { id: "queue" },
    el("h2", null, q.name, " ", el("span", { class: "muted" }, q.fifo ? "FIFO" : "standard")),
    el("p", null, el("code", null, q.url)),
    stats, chartBox,
    el("div", { class: "row" },
      el("div", { class: "card" }, el("h3", null, "Send a message"), body,
        el("button", { id: "send-button", onclick: send }, "Send"), " ", purgeBtn, " ", redrive, status),
      el("div", { class: "card" }, el("h3", null, "Mappings"), mappings,
        q.dead_letter_target ? el("p", null, "Dead-letter queue: ", link(`#/queues/${encodeURIComponent(q.dead_letter_target)}`, q.dead_letter_target)) : null)),
    el("h3", null, "Messages ", el("button", { id: "peek-button", onclick: peek }, "Peek"),
      el("span", { class: "muted" }, " (reading does not change visibility)")), peekBox,
    el("h3", null, "Attributes"), attrs);
}

// --- pages: async events -------------------------------------------------------------------------------
async function asyncPage() {
  const box = el("div");
  const draw = async () => {
    const data = await api("/api/async");
    const c = data.counts;
    box.replaceChildren(
      el("div", null, ["pending", "retrying", "finished"].map((k) => el("div", { class: "stat" }, el("b", null, c[k]), el("span", null, k)))),
      el("h3", null, "Waiting"),
      data.waiting.length ? table(["request id", "function", "state", "attempts", "next attempt", "received", "last error"],
        data.waiting.map((w) => [w.request_id, w.function, w.state, w.attempts, fmtTime(w.next_attempt_ms), fmtTime(w.received_ms), w.last_error]))
        : el("p", { class: "muted" }, "No event is waiting."),
      el("h3", null, "Finished (since the engine started)"),
      data.finished.length ? table(["request id", "function", "outcome", "condition", "attempts", "destination", "when"],
        data.finished.map((f) => [f.request_id, f.function, el("span", { class: f.outcome === "dropped" ? "bad" : "ok" }, f.outcome),
          f.condition, f.attempts, f.destination || f.dead_letter || "", fmtTime(f.at_ms)]))
        : el("p", { class: "muted" }, "None yet."));
  };
  await draw();
  let last = "";
  onPulse = (pulse) => {
    const key = JSON.stringify(pulse.async);
    if (last && key !== last) draw().catch(() => {});
    last = key;
  };
  openLive();
  return el("div", { id: "async" }, el("h2", null, "Async events"), box);
}

// --- pages: durable executions ---------------------------------------------------------------------------
function waitText(w) {
  if (w.kind === "wait") return `wait ${w.name} until ${fmtIso(w.due)}`;
  if (w.kind === "retry") return `step ${w.name} retries at ${fmtIso(w.due)}`;
  if (w.kind === "callback") return el("span", null, `callback ${w.name} `, el("code", null, w.callback_id));
  return `invoke ${w.name}`;
}

function executionsTable(rows, withFunction, limit) {
  if (!rows.length) return el("p", { class: "muted" }, "No durable execution yet.");
  const columns = ["name", ...(withFunction ? ["function"] : []), "status", "started", "ended", "waiting for"];
  return el("div", null, table(columns, rows.map((x) => [
    link(`#/executions/${encodeURIComponent(x.arn)}`, x.name), ...(withFunction ? [x.function] : []),
    el("span", { class: "status-" + x.status }, x.status), fmtIso(x.started), fmtIso(x.ended),
    el("div", null, x.waits.map((w) => el("div", null, waitText(w))))]), { class: "executions" }),
  rows.length >= limit ? el("p", { class: "muted" }, `The newest ${limit} (\`samlite executions\` lists all).`) : null);
}

async function executionsPage() {
  const box = el("div");
  const draw = async () => {
    const d = await api("/api/executions");
    box.replaceChildren(executionsTable(d.executions, true, d.limit));
  };
  await draw();
  let last = null;
  onPulse = (pulse) => {  // a replay ran (a metric row): something changed
    if (last !== null && pulse.metrics_id !== last) draw().catch(() => {});
    last = pulse.metrics_id;
  };
  openLive();
  return el("div", { id: "executions" }, el("h2", null, "Durable executions"), box);
}

async function executionPage(arn) {
  const box = el("div");
  const status = el("p", { id: "fire-status", class: "muted" }, "");
  const draw = async () => {
    const x = await api("/api/executions/history?" + new URLSearchParams({ arn }));
    const fire = x.status === "RUNNING" && x.waits.some((w) => w.kind === "wait" || w.kind === "retry")
      ? el("button", { id: "fire-button", onclick: async () => {
        try { status.textContent = `fired ${(await post("/api/executions/fire", JSON.stringify({ arn }))).fired}`; status.className = "ok"; }
        catch (e) { status.textContent = e.message; status.className = "err"; }
      } }, "Fire pending waits now") : null;
    const summary = table(["", ""], [["ARN", el("code", null, x.arn)], ["function", x.function],
      ["status", el("span", { id: "execution-status", class: "status-" + x.status }, x.status)],
      ["started", fmtIso(x.started)], ["ended", fmtIso(x.ended)], ["replays", x.invocations],
      ["waiting for", el("div", null, x.waits.map((w) => el("div", null, waitText(w))))],
      ["input", el("pre", null, x.input == null ? "" : fmtJson(x.input))],
      ["result", el("pre", { id: "execution-result" }, x.result == null ? "" : fmtJson(x.result))],
      ["error", x.error ? el("pre", null, JSON.stringify(x.error, null, 2)) : ""]]);
    const history = el("table", { id: "history" }, el("thead", null, el("tr", null,
      ["#", "time", "event", "operation", "details"].map((c) => el("th", null, c)))),
      el("tbody", null, x.events.map((e) => el("tr", null, [e.id, fmtIso(e.timestamp), e.type,
        e.name || "", e.details ? el("pre", null, e.details + (e.truncated ? "…" : "")) : ""].map((v) => el("td", null, v))))));
    box.replaceChildren(el("div", null, summary, fire, status, el("h3", null, "History"), history,
      x.more_events ? el("p", { class: "muted" }, `The first ${x.events.length} events (\`samlite executions show\` has all).`) : null));
    return x.status;
  };
  let state = await draw();
  let last = null;
  onPulse = (pulse) => {
    if (state === "RUNNING" && last !== null && pulse.metrics_id !== last) draw().then((s) => { state = s; }).catch(() => {});
    last = pulse.metrics_id;
  };
  openLive();
  return el("div", { id: "execution" }, el("h2", null, link("#/executions", "Executions"), " › ", arn.split("/").slice(-2)[0]), box);
}

// --- pages: data (S3, DynamoDB, SNS, EventBridge, Secrets Manager, SSM, SES; read-only) ----------------
function fmtBytes(n) { return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1048576).toFixed(1)} MB`; }
function none(what) { return el("p", { class: "muted" }, `No ${what}.`); }

function reveal(path, params, show) {
  // A value is fetched only when asked for, one at a time.
  const out = el("code", { class: "value" }, "");
  const button = el("button", { class: "reveal", onclick: async () => {
    try { out.textContent = show(await api(path + "?" + new URLSearchParams(params))); }
    catch (e) { out.textContent = e.message; }
    button.remove();
  } }, "Show value");
  return el("span", null, button, out);
}

async function dataPage() {
  openLive();
  const d = await api("/api/data");
  return el("div", { id: "data" }, el("h2", null, "Data"),
    el("h3", null, "Buckets"), d.buckets.length ? table(["bucket", "stack", "objects", "bytes", "created"],
      d.buckets.map((b) => [link(`#/data/buckets/${encodeURIComponent(b.name)}`, b.name), b.stack, b.objects, fmtBytes(b.bytes), b.created]))
      : none("bucket"),
    el("h3", null, "Tables"), d.tables.length ? table(["table", "stack", "keys", "items"],
      d.tables.map((t) => [link(`#/data/tables/${encodeURIComponent(t.name)}`, t.name), t.stack, t.keys, t.items]))
      : none("table"),
    el("h3", null, "Topics"), d.topics.length ? table(["topic", "subscriptions"],
      d.topics.map((t) => [t.name, t.subscriptions.map((s) => `${s.protocol}: ${s.endpoint}`).join("\n")])) : none("topic"),
    el("h3", null, "Rules"), d.rules.length ? table(["rule", "bus", "state", "pattern / schedule", "targets"],
      d.rules.map((r) => [r.name, r.bus, r.state, r.pattern || r.schedule, r.targets.map((t) => `${t.id}: ${t.arn}`).join("\n")]))
      : none("rule"),
    el("h3", null, "Secrets"), d.secrets.length ? table(["secret", "stack", "value"],
      d.secrets.map((s) => [s.name, s.stack, reveal("/api/data/secret", { name: s.name },
        (v) => v.string != null ? v.string : `(${v.binary_bytes} binary bytes)`)])) : none("secret"),
    el("h3", null, "Parameters"), d.parameters.length ? table(["parameter", "type", "stack", "value"],
      d.parameters.map((p) => [p.name, p.type, p.stack, reveal("/api/data/parameter", { name: p.name }, (v) => v.value)]))
      : none("parameter"),
    el("h3", null, "Sent email (SES)"), d.emails.length ? table(["from", "to", "subject", "body"],
      d.emails.map((m) => [m.source, m.to, m.subject, m.body])) : none("email sent"));
}

async function bucketPage(name) {
  openLive();
  const b = await api(`/api/data/buckets/${encodeURIComponent(name)}`);
  const href = (key) => `${BASE}/api/data/buckets/${encodeURIComponent(name)}/object?` + new URLSearchParams({ key });
  return el("div", { id: "bucket" }, el("h2", null, link("#/data", "Data"), " › ", name),
    b.objects.length ? table(["key", "size", "last modified", ""],
      b.objects.map((o) => [o.key, fmtBytes(o.size), o.last_modified, el("a", { href: href(o.key), download: "" }, "download")]))
      : none("object"),
    b.truncated ? el("p", { class: "muted" }, `The first ${b.objects.length} objects (\`samlite list buckets\` and the aws CLI list all).`) : null);
}

async function tablePage(name) {
  openLive();
  const t = await api(`/api/data/tables/${encodeURIComponent(name)}`);
  const keys = t.key_schema.map((k) => k.name);
  const columns = [...new Set([...keys, ...t.items.flatMap((i) => Object.keys(i))])];
  const cell = (v) => v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  return el("div", { id: "table" }, el("h2", null, link("#/data", "Data"), " › ", name),
    el("p", null, "Key: ", t.key_schema.map((k) => `${k.name} (${k.type})`).join(", "), ` · about ${t.item_count} items`),
    t.items.length ? table(columns, t.items.map((i) => columns.map((c) => cell(i[c])))) : none("item"),
    t.more ? el("p", { class: "muted" }, `The first ${t.items.length} items of a scan.`) : null);
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", route);
