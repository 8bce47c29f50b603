// fnflow's console: a few pages over the same API as the CLI and the client, with the same key.
// No framework and no build step: `h` builds elements (text is always set as text, never as HTML),
// `api` calls the server, and each page is an async function that fills <main>.

const view = document.getElementById("view");
const enc = encodeURIComponent;
const PAGE = 50;
let leaving = new AbortController(); // aborted when the page changes: ends live streams

// --- talking to the server -------------------------------------------------------------------------

function headers(extra = {}) {
  const key = sessionStorage.getItem("fnflow.key");
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, { method = "GET", body, text = false } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(path, init);
  if (response.status === 401) {
    signIn();
    throw new ApiError(401, "Unauthorized", "this server needs an API key");
  }
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    throw new ApiError(response.status, problem.code || "Error", problem.message || response.statusText);
  }
  if (response.status === 204) return null;
  return text ? response.text() : response.json();
}

function signIn() {
  const dialog = document.getElementById("login");
  if (!dialog.open) dialog.showModal();
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault(); // the dialog closes once the server has accepted the key
  const key = new FormData(event.target).get("key").trim();
  sessionStorage.setItem("fnflow.key", key);
  const check = await fetch("/api/v1/flows?limit=1", { headers: headers() });
  if (check.status === 401 || check.status === 403) {
    sessionStorage.removeItem("fnflow.key");
    document.getElementById("login-error").textContent = "The server does not accept this key.";
    return;
  }
  document.getElementById("login-error").textContent = "";
  document.getElementById("login").close();
  document.getElementById("logout").hidden = false;
  route();
});

document.getElementById("logout").addEventListener("click", () => {
  sessionStorage.removeItem("fnflow.key");
  location.reload();
});
document.getElementById("logout").hidden = !sessionStorage.getItem("fnflow.key");

// --- building the page ------------------------------------------------------------------------------

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== undefined && child !== null && child !== false) {
      element.append(child instanceof Node ? child : String(child));
    }
  }
  return element;
}

function table(columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", {}, h("thead", {}, h("tr", {}, columns.map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))));
}

function status(text) {
  return h("span", { class: `status ${text}` }, text);
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, date.toLocaleString(undefined, { timeZoneName: "short" }));
}

function json(value) {
  return h("pre", {}, value === undefined || value === null ? "" : JSON.stringify(value, null, 2));
}

function show(...content) {
  view.replaceChildren(...content);
}

function failure(error) {
  return h("p", { class: "error", role: "alert" }, error.message);
}

// A "more" button that asks the server for the next page (lists are paged by the server).
function pager(nextToken, load) {
  if (!nextToken) return h("span");
  return h("button", { class: "more", onclick: () => load(nextToken) }, "More");
}

// --- flows ------------------------------------------------------------------------------------------

async function flowsPage() {
  const list = h("tbody");
  const more = h("div", { class: "row" });
  async function load(token) {
    const page = await api(`/api/v1/flows?limit=${PAGE}${token ? `&nextToken=${enc(token)}` : ""}`);
    for (const flow of page.flows) {
      list.append(h("tr", {}, h("td", {}, h("a", { href: `#/flows/${enc(flow.name)}` }, flow.name)),
        h("td", {}, flow.description), h("td", {}, flow.version), h("td", {}, when(flow.lastModifiedTime))));
    }
    more.replaceChildren(pager(page.nextToken, load));
  }
  show(h("h1", {}, "Flows"),
    h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Description", "Version", "Modified"].map((c) => h("th", {}, c)))), list),
    more);
  await load();
}

async function flowPage(name) {
  const flow = await api(`/api/v1/flows/${enc(name)}`);
  const graph = h("div", { class: "graph" });
  graph.innerHTML = await api(`/api/v1/flows/${enc(name)}/graph?format=svg`, { text: true }); // drawn by the server
  const prefill = sessionStorage.getItem(`fnflow.rerun.${name}`) || "{}";
  sessionStorage.removeItem(`fnflow.rerun.${name}`);
  const input = h("textarea", { name: "input", "aria-label": "input" }, prefill);
  const execName = h("input", { name: "name", placeholder: "name (optional)", "aria-label": "execution name" });
  const versions = (await api(`/api/v1/flows/${enc(name)}/versions?limit=100`)).versions;
  const onVersion = h("select", { name: "version", "aria-label": "flow version" },
    versions.map((v) => h("option", { value: v.version, selected: v.version === flow.version }, `version ${v.version}${v.version === flow.version ? " (current)" : ""}`)));
  const startError = h("p", { class: "error" });
  const start = h("form", { class: "panel", onsubmit: async (event) => {
    event.preventDefault();
    startError.textContent = "";
    let value;
    try { value = JSON.parse(input.value || "{}"); } catch (e) { startError.textContent = `The input is not JSON: ${e.message}`; return; }
    try {
      const body = { input: value };
      if (execName.value.trim()) body.name = execName.value.trim();
      if (Number(onVersion.value) !== flow.version) body.version = Number(onVersion.value);
      const started = await api(`/api/v1/flows/${enc(name)}/executions`, { method: "POST", body });
      location.hash = `#/flows/${enc(name)}/executions/${enc(started.name)}`;
    } catch (e) { startError.textContent = e.message; }
  } }, h("h2", {}, "Start an execution"), input, h("div", { class: "row" }, execName, onVersion, h("button", { class: "primary", type: "submit" }, "Start")), startError);
  const rollbackError = h("p", { class: "error" });
  const versionRows = versions.map((v) => [v.version, v.description, v.definitionHash.slice(0, 12), when(v.createdTime),
    v.version === flow.version ? h("span", { class: "muted" }, "current") : h("button", { class: "rollback", onclick: async () => {
      try {
        await api(`/api/v1/flows/${enc(name)}`, { method: "PUT", body: { version: v.version, description: `rolled back to version ${v.version} from the console` } });
        await flowPage(name);
      } catch (e) { rollbackError.textContent = e.message; }
    } }, "Roll back to this")]);
  show(h("h1", {}, `Flow ${name}`), h("p", { class: "muted" }, flow.description || "", ` version ${flow.version}, modified `, when(flow.lastModifiedTime)),
    h("div", { class: "split" }, graph, h("div", {}, start, h("h2", {}, "Definition"), h("pre", {}, flow.definition))),
    h("h2", {}, "Executions"), await executionList(name),
    h("h2", {}, "Versions"), h("div", { class: "versions" }, table(["Version", "Description", "Definition", "Created", ""], versionRows)), rollbackError);
}

async function executionList(flow) {
  const body = h("tbody");
  const more = h("div", { class: "row" });
  const filter = h("select", { name: "status", "aria-label": "status" }, ["", "Running", "Succeeded", "Failed", "TimedOut", "Stopped"].map((s) => h("option", { value: s }, s || "any status")));
  const search = h("input", { name: "prefix", placeholder: "name starts with", "aria-label": "name starts with" });
  async function load(token) {
    const params = new URLSearchParams({ limit: PAGE });
    if (filter.value) params.set("status", filter.value);
    if (search.value.trim()) params.set("namePrefix", search.value.trim());
    if (token) params.set("nextToken", token);
    const page = await api(`/api/v1/flows/${enc(flow)}/executions?${params}`);
    if (!token) body.replaceChildren();
    for (const e of page.executions) {
      const parent = e.parentExecution ? h("a", { href: `#/flows/${enc(e.parentExecution.flowName)}/executions/${enc(e.parentExecution.name)}` }, `${e.parentExecution.flowName}/${e.parentExecution.name}`) : "";
      body.append(h("tr", { class: "execution" }, h("td", {}, h("a", { href: `#/flows/${enc(flow)}/executions/${enc(e.name)}` }, e.name)),
        h("td", {}, status(e.status)), h("td", {}, when(e.startedTime)), h("td", {}, when(e.stoppedTime)), h("td", {}, parent), h("td", {}, e.error || "")));
    }
    more.replaceChildren(pager(page.nextToken, load));
  }
  filter.addEventListener("change", () => load());
  search.addEventListener("input", () => load());
  await load();
  return h("div", {}, h("div", { class: "row" }, filter, search),
    h("table", {}, h("thead", {}, h("tr", {}, ["Name", "Status", "Started", "Stopped", "Parent", "Error"].map((c) => h("th", {}, c)))), body), more);
}

// --- an execution, live ------------------------------------------------------------------------------

const WAITING = { timer: "a timer", retry: "a retry's back-off", callback: "a callback", child: "a child execution", message: "its message's consumer", call: "an asynchronous call" };

function colour(graph, steps) {
  for (const group of graph.querySelectorAll("g.step[data-step]")) {
    const step = steps[group.dataset.step];
    group.classList.forEach((c) => c.startsWith("state-") && group.classList.remove(c));
    group.querySelector("text.badge-text")?.remove();
    if (!step) continue;
    group.classList.add(`state-${step.state}`);
    group.dataset.state = step.state;
    const marks = [];
    if (step.entered > 1) marks.push(`×${step.entered}`);
    if (step.retries > 0) marks.push(`↻${step.retries}`);
    if (marks.length) {
      const box = group.querySelector("rect");
      const text = document.createElementNS("http://www.w3.org/2000/svg", "text");
      text.setAttribute("class", "badge-text sub");
      text.setAttribute("x", Number(box.getAttribute("x")) + Number(box.getAttribute("width")) - 4);
      text.setAttribute("y", Number(box.getAttribute("y")) + 12);
      text.setAttribute("text-anchor", "end");
      text.textContent = marks.join(" ");
      group.append(text);
    }
  }
}

function stepPanel(name, step, actions = "") {
  if (!step) return h("div", { class: "panel" }, h("h2", {}, name), h("p", { class: "muted" }, "Not reached."));
  const waiting = step.waitingFor ? `waiting for ${WAITING[step.waitingFor] || step.waitingFor}` : step.state;
  return h("div", { class: "panel step-panel" }, h("h2", {}, name),
    h("dl", {}, h("dt", {}, "State"), h("dd", { class: "step-state" }, waiting),
      h("dt", {}, "Entered"), h("dd", {}, step.entered), h("dt", {}, "Attempts"), h("dd", {}, step.attempts),
      h("dt", {}, "Retries"), h("dd", {}, step.retries), h("dt", {}, "Started"), h("dd", {}, when(step.startedTime)),
      h("dt", {}, "Ended"), h("dd", {}, when(step.endedTime))),
    step.error ? h("div", { class: "step-error" }, h("p", { class: "error" }, step.error), h("pre", {}, step.cause || "")) : "",
    step.submitted ? [h("h3", {}, "Handed over"), json(step.submitted)] : "",
    h("h3", {}, "Input"), json(step.input), h("h3", {}, "Output"), json(step.output), actions);
}

function timelineRows(events) {
  return events.map((e) => h("tr", {}, h("td", {}, e.eventId), h("td", {}, when(e.time)), h("td", {}, e.type), h("td", {}, e.stepName),
    h("td", {}, h("code", {}, JSON.stringify(e.eventDetail).slice(0, 160)))));
}

async function followProgress(flow, name, onProgress, signal) {
  const response = await fetch(`/api/v1/flows/${enc(flow)}/executions/${enc(name)}/watch`, { headers: headers(), signal });
  if (!response.ok) throw new ApiError(response.status, "Error", `cannot follow the execution (HTTP ${response.status})`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = message.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
      if (data) onProgress(JSON.parse(data));
    }
  }
}

async function executionPage(flow, name) {
  const path = `/api/v1/flows/${enc(flow)}/executions/${enc(name)}`;
  let execution = await api(path);
  const graph = h("div", { class: "graph" });
  graph.innerHTML = await api(`${path}/graph?format=svg`, { text: true });
  const side = h("div", {}, h("p", { class: "muted" }, "Click a step to see its input, output, error and timing."));
  const header = h("div");
  const timeline = h("tbody");
  let steps = {};
  let selected = null;

  function renderHeader() {
    const links = [];
    if (execution.parentExecution) {
      const p = execution.parentExecution;
      links.push(h("span", {}, "Parent: ", h("a", { class: "parent", href: `#/flows/${enc(p.flowName)}/executions/${enc(p.name)}` }, `${p.flowName}/${p.name}`)));
    }
    for (const c of execution.childExecutions || []) {
      links.push(h("span", {}, "Child: ", h("a", { class: "child", href: `#/flows/${enc(c.flowName)}/executions/${enc(c.name)}` }, `${c.flowName}/${c.name}`), " ", status(c.status || "")));
    }
    const stop = h("button", { class: "danger", disabled: execution.status !== "Running", onclick: async () => {
      await api(`${path}/stop`, { method: "POST", body: { error: "", cause: "stopped from the console" } });
    } }, "Stop");
    const redriveError = h("span", { class: "error" });
    const redrive = h("button", { disabled: !["Failed", "TimedOut"].includes(execution.status), title: "Continue from the step where it ended", onclick: async () => {
      try {
        await api(`${path}/redrive`, { method: "POST" });
        await executionPage(flow, name);
      } catch (e) { redriveError.textContent = e.message; }
    } }, "Redrive");
    const rerun = h("button", { onclick: () => {
      sessionStorage.setItem(`fnflow.rerun.${flow}`, JSON.stringify(execution.input, null, 2));
      location.hash = `#/flows/${enc(flow)}`;
    } }, "Run again…");
    header.replaceChildren(h("h1", {}, `${flow} / ${name}`),
      h("div", { class: "row" }, h("span", { class: "execution-status" }, status(execution.status)),
        execution.flowVersion ? h("span", { class: "flow-version" }, `version ${execution.flowVersion}`) : "", "started ", when(execution.startedTime),
        execution.stoppedTime ? ["stopped ", when(execution.stoppedTime)] : "", stop, redrive, rerun, redriveError),
      execution.error ? h("p", { class: "error" }, `${execution.error}: ${execution.cause || ""}`) : "",
      links.length ? h("div", { class: "row" }, links) : "",
      execution.output !== null && execution.output !== undefined ? h("div", { class: "output" }, h("h2", {}, "Output"), json(execution.output)) : "");
  }

  function resetTo(step) {
    const failure = h("p", { class: "error" });
    const button = h("button", { class: "reset", title: "A new execution from this task step, with the state recorded there", onclick: async () => {
      try {
        const started = await api(`${path}/reset`, { method: "POST", body: { toStep: step } });
        location.hash = `#/flows/${enc(flow)}/executions/${enc(started.name)}`;
      } catch (e) { failure.textContent = e.message; }
    } }, "Reset to this step");
    return h("div", { class: "row" }, button, failure);
  }

  graph.addEventListener("click", (event) => {
    const group = event.target.closest("g.step[data-step]");
    if (!group) return;
    graph.querySelector("g.step.selected")?.classList.remove("selected");
    group.classList.add("selected");
    selected = group.dataset.step;
    side.replaceChildren(stepPanel(selected, steps[selected], resetTo(selected)));
  });

  renderHeader();
  show(header, h("div", { class: "split" }, graph, side), h("h2", {}, "History"),
    h("table", { class: "timeline" }, h("thead", {}, h("tr", {}, ["#", "Time", "Type", "Step", "Detail"].map((c) => h("th", {}, c)))), timeline));

  const signal = leaving.signal;
  try {
    await followProgress(flow, name, (progress) => {
      steps = progress.steps;
      colour(graph, steps);
      timeline.append(...timelineRows(progress.events));
      if (selected) side.replaceChildren(stepPanel(selected, steps[selected], resetTo(selected)));
      if (progress.status !== execution.status) {
        execution.status = progress.status;
        renderHeader();
      }
    }, signal);
  } catch (e) {
    if (signal.aborted) return;
    throw e;
  }
  execution = await api(path); // it ended: show its output, error and children as they are now
  renderHeader();
}

// --- functions, calls, schedules, queues, topics ------------------------------------------------------

async function functionsPage() {
  const functions = (await api("/api/v1/functions")).functions || [];
  const services = [...new Set(functions.map((f) => f.service))].sort();
  const sections = [];
  for (const service of services) {
    const [versions, aliases] = await Promise.all([
      api(`/api/v1/services/${enc(service)}/versions`), api(`/api/v1/services/${enc(service)}/aliases`)]);
    if (!versions.versions.length && !aliases.aliases.length) continue;
    const split = (a) => [a.versionId, ...Object.entries(a.additionalVersionWeight).map(([v, w]) => `${v} (${Math.round(w * 100)}%)`)].join(" + ");
    sections.push(h("section", { class: "service-versions" }, h("h2", {}, `Service ${service}`),
      h("h3", {}, "Aliases"), table(["Alias", "Versions", "Reserved instances", "Description", "Modified"],
        aliases.aliases.map((a) => [a.aliasName, split(a), a.reservedInstances, a.description, when(a.lastModifiedTime)]), "No aliases."),
      h("h3", {}, "Versions"), table(["Version", "Functions", "Description", "Published"],
        versions.versions.map((v) => [v.versionId, v.functions.join(", "), v.description, when(v.createdTime)]))));
  }
  show(h("h1", {}, "Functions"), table(["Service", "Name", "Runtime", "Instances", "Timeout", "Modified"],
    functions.map((f) => [f.service, f.name, f.runtime, `${f.minInstances || 0}–${f.maxInstances}`, `${f.timeout}s`, when(f.lastModifiedTime)])),
    ...sections);
}

async function callsPage() {
  const body = h("tbody");
  const more = h("div", { class: "row" });
  const filter = h("select", { name: "status", "aria-label": "status" }, ["", "Enqueued", "Running", "Retrying", "Succeeded", "Failed", "Stopped", "Expired"].map((s) => h("option", { value: s }, s || "any status")));
  const dead = h("input", { type: "checkbox", name: "dead", id: "dead" });
  async function load(token) {
    const params = new URLSearchParams({ limit: PAGE });
    if (filter.value) params.set("status", filter.value);
    if (dead.checked) params.set("deadLetter", "true");
    if (token) params.set("nextToken", token);
    const page = await api(`/api/v1/calls?${params}`);
    if (!token) body.replaceChildren();
    for (const call of page.calls) {
      const actions = [];
      if (call.deadLetter) actions.push(h("button", { class: "redrive", onclick: async () => { await api("/api/v1/calls/redrive", { method: "POST", body: { callIds: [call.callId] } }); await load(); } }, "Redrive"));
      if (["Enqueued", "Running", "Retrying"].includes(call.status)) actions.push(h("button", { class: "danger", onclick: async () => { await api(`/api/v1/calls/${enc(call.callId)}/stop`, { method: "POST" }); await load(); } }, "Cancel"));
      body.append(h("tr", { class: "call" }, h("td", {}, h("code", {}, call.callId)), h("td", {}, `${call.service}/${call.function}`), h("td", {}, status(call.status)),
        h("td", {}, call.attempts), h("td", {}, when(call.createdTime)), h("td", {}, call.result ? `HTTP ${call.result.status}` : call.error || ""), h("td", {}, actions)));
    }
    more.replaceChildren(pager(page.nextToken, load));
  }
  filter.addEventListener("change", () => load());
  dead.addEventListener("change", () => load());
  show(h("h1", {}, "Asynchronous calls"), h("div", { class: "row" }, filter, h("label", {}, dead, " dead letters only")),
    h("table", {}, h("thead", {}, h("tr", {}, ["Call", "Function", "Status", "Attempts", "Accepted", "Result", ""].map((c) => h("th", {}, c)))), body), more);
  await load();
}

async function schedulesPage() {
  const page = await api(`/api/v1/schedules?limit=1000`);
  const rows = page.schedules.map((s) => {
    const toggle = h("button", { onclick: async () => {
      await api(`/api/v1/flows/${enc(s.flowName)}/schedules/${enc(s.scheduleName)}`, { method: "PUT", body: { cronExpression: s.cronExpression, timeZone: s.timeZone, payload: s.payload, enable: !s.enable, description: s.description } });
      await schedulesPage();
    } }, s.enable ? "Disable" : "Enable");
    return [h("a", { href: `#/flows/${enc(s.flowName)}` }, s.flowName), s.scheduleName, h("code", {}, s.cronExpression), s.enable ? "yes" : "no", when(s.nextFireTime), toggle];
  });
  show(h("h1", {}, "Schedules"), table(["Flow", "Name", "Cron", "Enabled", "Next fire", ""], rows));
}

async function queuesPage() {
  const page = await api("/api/v1/queues?limit=100");
  const rows = await Promise.all(page.queues.map(async (q) => {
    const full = await api(`/api/v1/queues/${enc(q.name)}`);
    return [q.name, full.activeMessages, full.inactiveMessages, full.delayMessages, q.deadLetterQueue ? `${q.deadLetterQueue} after ${q.maxReceiveCount}` : "", `${q.visibilityTimeout}s`];
  }));
  show(h("h1", {}, "Queues"), table(["Name", "Visible", "In flight", "Delayed", "Dead letters", "Visibility"], rows));
}

async function topicsPage() {
  const page = await api("/api/v1/topics?limit=100");
  const rows = await Promise.all(page.topics.map(async (t) => {
    const subs = await api(`/api/v1/topics/${enc(t.name)}/subscriptions`);
    return [t.name, h("ul", {}, subs.subscriptions.map((s) => h("li", {}, `${s.subscriptionName} → `, h("code", {}, s.endpoint))))];
  }));
  show(h("h1", {}, "Topics"), table(["Name", "Subscriptions"], rows));
}

// --- routing ----------------------------------------------------------------------------------------

const ROUTES = [
  [/^#\/flows\/([^/]+)\/executions\/([^/]+)$/, (f, n) => executionPage(f, n)],
  [/^#\/flows\/([^/]+)$/, (f) => flowPage(f)],
  [/^#\/flows$/, flowsPage],
  [/^#\/functions$/, functionsPage],
  [/^#\/calls$/, callsPage],
  [/^#\/schedules$/, schedulesPage],
  [/^#\/queues$/, queuesPage],
  [/^#\/topics$/, topicsPage],
];

async function route() {
  leaving.abort();
  leaving = new AbortController();
  const hash = location.hash || "#/flows";
  for (const link of document.querySelectorAll("header nav a")) {
    link.classList.toggle("active", hash.startsWith(link.getAttribute("href")));
  }
  for (const [pattern, page] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      try {
        await page(...match.slice(1).map(decodeURIComponent));
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 401)) show(failure(error));
      }
      return;
    }
  }
  location.hash = "#/flows";
}

window.addEventListener("hashchange", route);
route();
