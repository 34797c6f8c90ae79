// The teacher's page: sign in, create a batch, upload, run a pipeline, follow it live, read the
// results. Talks only to this gateway's /v1 API with the bearer token kept for the tab.

const TOKEN_KEY = "huleedu.token";
const TEACHER_KEY = "huleedu.teacher";
const STATUS_REFRESH_MS = 1500;
const TERMINAL = new Set(["completed_successfully", "completed_with_failures", "failed", "cancelled"]);
const PHASES_OF = { spellcheck: ["spellcheck"], cj_assessment: ["spellcheck", "cj_assessment"] };
const PHASE_LABEL = { spellcheck: "Spellcheck", cj_assessment: "Comparative judgement" };
const PHASE_DONE = {
  spellcheck: new Set(["spellchecked", "spellcheck_failed"]),
  cj_assessment: new Set(["cj_completed", "cj_failed"]),
};

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  teacher: sessionStorage.getItem(TEACHER_KEY),
  batchId: null,
  lastSeq: 0,
  stream: null,
  pipeline: null,
  pipelineStartSeq: 0,
  sawProcessing: false,
  resultsShown: false,
  refreshTimer: null,
  pollUntilReady: false,
};

class ApiError extends Error {
  constructor(status, body) {
    const message = body && body.message ? body.message : `request failed (${status})`;
    super(message);
    this.status = status;
    this.code = body && body.code ? body.code : null;
  }
}

async function api(method, path, { json, form, accept } = {}) {
  const headers = { Accept: accept || "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const response = await fetch(path, { method, headers, body });
  if (!response.ok) {
    let detail = null;
    try {
      detail = await response.json();
    } catch {
      detail = null;
    }
    if (response.status === 401 && path !== "/v1/dev/token") signOut("Your sign-in has expired.");
    throw new ApiError(response.status, detail);
  }
  return response;
}

function showError(error) {
  const box = $("error");
  if (!error) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.textContent = error.code ? `${error.message} (${error.code})` : String(error.message || error);
  box.hidden = false;
}

function guarded(action) {
  return async (event) => {
    if (event) event.preventDefault();
    showError(null);
    try {
      await action(event);
    } catch (error) {
      showError(error);
    }
  };
}

function element(tag, { text, className, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

// Sign in -----------------------------------------------------------------------------------

function renderSignedIn() {
  const signedIn = Boolean(state.token);
  $("sign-in-section").hidden = signedIn;
  $("signed-in-as").hidden = !signedIn;
  $("batch-section").hidden = !signedIn;
  $("teacher-name").textContent = state.teacher || "";
}

async function signIn() {
  const teacherId = $("teacher-id").value.trim();
  const response = await api("POST", "/v1/dev/token", { json: { teacher_id: teacherId } });
  const token = await response.json();
  state.token = token.access_token;
  state.teacher = token.teacher_id;
  sessionStorage.setItem(TOKEN_KEY, state.token);
  sessionStorage.setItem(TEACHER_KEY, state.teacher);
  renderSignedIn();
  $("course-code").focus();
}

function signOut(reason) {
  stopStream();
  state.token = null;
  state.teacher = null;
  state.batchId = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(TEACHER_KEY);
  for (const id of ["upload-section", "pipeline-section", "progress-section", "results-section", "essay-section"]) {
    $(id).hidden = true;
  }
  $("batch-created").hidden = true;
  renderSignedIn();
  if (reason) showError(new Error(reason));
}

// Batch and upload ------------------------------------------------------------------------

async function createBatch() {
  const body = {
    course_code: $("course-code").value.trim(),
    expected_essay_count: Number.parseInt($("essay-count").value, 10),
  };
  const title = $("batch-name").value.trim();
  const instructions = $("instructions").value.trim();
  if (title) body.title = title;
  if (instructions) body.essay_instructions = instructions;
  const response = await api("POST", "/v1/batches/register", { json: body });
  const accepted = await response.json();
  resetBatch(accepted.batch_id);
  $("batch-id").textContent = accepted.batch_id;
  $("batch-created").hidden = false;
  $("upload-section").hidden = false;
  $("pipeline-section").hidden = false;
  $("progress-section").hidden = false;
  $("batch-state").textContent = "Waiting for the essays.";
  $("file-input").focus();
  startStream();
}

function resetBatch(batchId) {
  stopStream();
  Object.assign(state, {
    batchId,
    lastSeq: 0,
    pipeline: null,
    pipelineStartSeq: 0,
    sawProcessing: false,
    resultsShown: false,
  });
  $("file-list").replaceChildren();
  $("event-log").replaceChildren();
  $("results-section").hidden = true;
  $("essay-section").hidden = true;
  $("start-pipeline").disabled = true;
  $("progress-bar").value = 0;
  $("progress-summary").textContent = "";
  $("upload-status").textContent = "";
}

async function upload(files) {
  if (!files.length || !state.batchId) return;
  const form = new FormData();
  form.append("batch_id", state.batchId);
  for (const file of files) form.append("files", file, file.name);
  $("upload-status").textContent = `Uploading ${files.length} file(s)…`;
  const response = await api("POST", "/v1/files/batch", { form });
  const outcome = await response.json();
  for (const file of outcome.files) {
    const accepted = file.status === "accepted";
    const text = accepted
      ? `${file.file_name}: accepted`
      : `${file.file_name}: rejected — ${file.message || file.reason}`;
    $("file-list").append(
      element("li", {
        text,
        className: accepted ? "accepted" : "rejected",
        attrs: { "data-status": file.status, "data-file": file.file_name },
      }),
    );
  }
  const listed = $("file-list").children.length;
  const acceptedCount = $("file-list").querySelectorAll("li.accepted").length;
  $("upload-status").textContent = `${acceptedCount} of ${listed} file(s) accepted so far.`;
  state.pollUntilReady = true;
  scheduleStatusRefresh(0);
}

// Batch status (its essays' phase states drive the progress bar) ----------------------------------------------------------------------------

function scheduleStatusRefresh(delay = STATUS_REFRESH_MS) {
  if (state.refreshTimer !== null) return;
  state.refreshTimer = setTimeout(async () => {
    state.refreshTimer = null;
    try {
      await refreshStatus();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) showError(error);
    }
    if (state.pollUntilReady || (state.pipeline && !state.resultsShown)) scheduleStatusRefresh();
  }, delay);
}

async function refreshStatus() {
  if (!state.batchId) return;
  const batchId = state.batchId;
  const response = await api("GET", `/v1/batches/${batchId}/status`);
  const status = await response.json();
  if (batchId !== state.batchId) return;
  const startable = status.status === "ready" || status.status.startsWith("completed");
  if (status.status !== "pending_content") state.pollUntilReady = false;
  $("start-pipeline").disabled = !startable || (state.pipeline !== null && !state.resultsShown);
  $("batch-state").textContent = `Batch status: ${status.status.replaceAll("_", " ")}.`;
  $("batch-state").dataset.status = status.status;
  if (status.status === "processing") state.sawProcessing = true;
  if (!state.pipeline) return;
  const phasesDone = renderPhaseProgress(status);
  if (TERMINAL.has(status.status) && (state.sawProcessing || phasesDone)) await showResults();
}

function renderPhaseProgress(status) {
  const phases = PHASES_OF[state.pipeline] || [state.pipeline];
  const essays = status.essays.filter((essay) => essay.status !== "validation_failed");
  const lines = [];
  let done = 0;
  for (const phase of phases) {
    let finished = 0;
    let failed = 0;
    for (const essay of essays) {
      const step = (essay.phases || []).find((candidate) => candidate.phase === phase);
      if (step && PHASE_DONE[phase].has(step.status)) {
        finished += 1;
        if (step.status.endsWith("failed")) failed += 1;
      }
    }
    done += finished;
    const failures = failed ? `, ${failed} failed` : "";
    lines.push(`${PHASE_LABEL[phase] || phase}: ${finished} of ${essays.length} essays done${failures}`);
  }
  const total = Math.max(1, essays.length * phases.length);
  $("progress-bar").max = total;
  $("progress-bar").value = done;
  $("progress-summary").textContent = `${lines.join(". ")}.`;
  return done === essays.length * phases.length;
}

// Pipeline and live progress --------------------------------------------------------------

async function startPipeline() {
  const pipeline = $("pipeline").value;
  await api("POST", `/v1/batches/${state.batchId}/pipelines`, {
    json: { requested_pipeline: pipeline },
  });
  Object.assign(state, {
    pipeline,
    pipelineStartSeq: state.lastSeq,
    sawProcessing: false,
    resultsShown: false,
  });
  $("start-pipeline").disabled = true;
  $("results-section").hidden = true;
  $("progress-summary").textContent = `${PHASE_LABEL[pipeline] || pipeline} requested.`;
  $("progress-section").dataset.state = "running";
  scheduleStatusRefresh(0);
}

function stopStream() {
  if (state.stream) state.stream.abort();
  state.stream = null;
}

// Reads the batch's events with fetch (so the token travels in a header, never in the URL)
// and resumes after the last seq seen whenever the connection drops.
function startStream() {
  stopStream();
  const controller = new AbortController();
  state.stream = controller;
  const batchId = state.batchId;
  (async () => {
    let delay = 1000;
    while (!controller.signal.aborted && batchId === state.batchId) {
      try {
        await readStream(batchId, controller.signal);
        delay = 1000;
      } catch (error) {
        if (controller.signal.aborted) return;
        if (error instanceof ApiError && error.status === 401) return;
        delay = Math.min(delay * 2, 10000);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  })();
}

async function readStream(batchId, signal) {
  const headers = { Accept: "text/event-stream", Authorization: `Bearer ${state.token}` };
  if (state.lastSeq) headers["Last-Event-ID"] = String(state.lastSeq);
  const response = await fetch(`/v1/batches/${batchId}/events`, { headers, signal });
  if (!response.ok) throw new ApiError(response.status, null);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let end = buffer.indexOf("\n\n");
    while (end !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      handleFrame(frame);
      end = buffer.indexOf("\n\n");
    }
  }
}

function handleFrame(frame) {
  let id = null;
  let kind = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "id") id = value;
    else if (field === "event") kind = value;
    else if (field === "data") data.push(value);
  }
  if (id === null || !data.length) return;
  const seq = Number.parseInt(id, 10);
  if (!(seq > state.lastSeq)) return;
  state.lastSeq = seq;
  onProgress(seq, kind, JSON.parse(data.join("\n")));
}

// One line per event for the log; the fields are those result_aggregator documents per kind.
function describe(kind, event) {
  const details = event && event.data ? event.data : {};
  const parts = [kind.replaceAll(".", " ").replaceAll("_", " ")];
  if (details.file_name) parts.push(details.file_name);
  if (details.phase) parts.push(String(details.phase).replaceAll("_", " "));
  if (typeof details.total_corrections === "number") {
    parts.push(`${details.total_corrections} correction(s)`);
  }
  if (details.message) parts.push(details.message);
  if (details.status) parts.push(String(details.status).replaceAll("_", " "));
  return parts.join(" — ");
}

function onProgress(seq, kind, event) {
  const log = $("event-log");
  log.append(element("li", { text: describe(kind, event), attrs: { "data-seq": String(seq) } }));
  $("progress-section").dataset.lastKind = kind;
  if (kind === "pipeline.completed" && state.pipeline && seq > state.pipelineStartSeq) {
    state.sawProcessing = true;
  }
  scheduleStatusRefresh();
}

// Results -----------------------------------------------------------------------------------

function formatNumber(value, digits = 2) {
  return typeof value === "number" ? value.toFixed(digits) : "—";
}

async function showResults() {
  if (state.resultsShown) return;
  state.resultsShown = true;
  const response = await api("GET", `/v1/batches/${state.batchId}/results`);
  const results = await response.json();
  const rows = results.essays.map((essay) => {
    const grade = essay.grade
      ? `${essay.grade}${typeof essay.grade_probability === "number" ? ` (${Math.round(essay.grade_probability * 100)} %)` : ""}`
      : "—";
    const score =
      typeof essay.score === "number"
        ? `${formatNumber(essay.score)} ± ${formatNumber(essay.standard_error)}`
        : "—";
    const failures = (essay.failures || []).map((failure) => `${failure.phase}: ${failure.message}`);
    const status = [essay.status.replaceAll("_", " "), ...failures].join("; ");
    const readable = [];
    if (essay.original_text_id) {
      const open = element("button", {
        text: "Read",
        className: "link-button",
        attrs: { type: "button", "aria-label": `Read ${essay.file_name || "essay"}` },
      });
      open.addEventListener("click", guarded(() => openEssay(essay.essay_id, open)));
      readable.push(open);
    }
    return element("tr", { attrs: { "data-essay-id": essay.essay_id } }, [
      element("td", { text: essay.rank ?? "—" }),
      element("th", { text: essay.file_name || "(no file)", attrs: { scope: "row" } }),
      element("td", { text: grade }),
      element("td", { text: score }),
      element("td", { text: essay.total_corrections ?? "—" }),
      element("td", { text: status, className: failures.length ? "rejected" : "" }),
      element("td", {}, readable),
    ]);
  });
  $("results-table").tBodies[0].replaceChildren(...rows);
  const ranked = results.essays.some((essay) => typeof essay.rank === "number");
  $("results-table").caption.textContent = ranked
    ? "Essays ranked, best first"
    : "Essays by file name (not ranked: comparative judgement has not run)";
  const seconds = results.timings ? results.timings.duration_s : null;
  const took = typeof seconds === "number" ? ` The pipeline took ${seconds.toFixed(1)} s.` : "";
  const judged =
    typeof results.comparisons_completed === "number"
      ? ` Ranked from ${results.comparisons_completed} comparisons` +
        (typeof results.reliability === "number"
          ? `, reliability ${results.reliability.toFixed(2)} (1 = the order is all signal, 0 = all noise).`
          : ".")
      : "";
  $("results-summary").textContent =
    `${results.essays.length} essay(s); batch ${results.status.replaceAll("_", " ")}.${took}${judged}`;
  $("results-section").hidden = false;
  $("progress-section").dataset.state = "done";
  $("progress-summary").textContent = `${$("progress-summary").textContent} Finished.`;
  $("start-pipeline").disabled = false;
}

async function downloadCsv() {
  const response = await api("GET", `/v1/batches/${state.batchId}/results`, { accept: "text/csv" });
  const disposition = response.headers.get("Content-Disposition") || "";
  const match = /filename="?([^";]+)"?/.exec(disposition);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = element("a", {
    attrs: { href: url, download: match ? match[1] : `batch-${state.batchId}.csv` },
  });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Essay text with corrections ---------------------------------------------------------------

let essayOpener = null;

async function openEssay(essayId, opener) {
  const response = await api("GET", `/v1/batches/${state.batchId}/essays/${essayId}/text`);
  const essay = await response.json();
  essayOpener = opener;
  $("essay-title").textContent = essay.file_name || "Essay";
  $("essay-text").replaceChildren(...markCorrections(essay.original_text || "", essay.corrections));
  $("correction-list").replaceChildren(
    ...essay.corrections.map((correction) =>
      element("li", {
        text: `${correction.original} → ${correction.corrected} (${correction.category})`,
      }),
    ),
  );
  if (!essay.corrections.length) {
    $("correction-list").append(element("li", { text: "No corrections." }));
  }
  const section = $("essay-section");
  section.hidden = false;
  section.focus();
}

// Offsets are in code points of the original text; JS strings index UTF-16 units.
function markCorrections(text, corrections) {
  const points = Array.from(text);
  const nodes = [];
  let cursor = 0;
  const ordered = [...corrections].sort((a, b) => a.start - b.start);
  for (const correction of ordered) {
    if (correction.start < cursor || correction.end > points.length) continue;
    if (correction.start > cursor) nodes.push(points.slice(cursor, correction.start).join(""));
    nodes.push(
      element("mark", { className: "correction", attrs: { title: correction.category } }, [
        element("del", { text: points.slice(correction.start, correction.end).join("") }),
        element("ins", { text: correction.corrected }),
      ]),
    );
    cursor = correction.end;
  }
  if (cursor < points.length) nodes.push(points.slice(cursor).join(""));
  return nodes;
}

function closeEssay() {
  $("essay-section").hidden = true;
  if (essayOpener) essayOpener.focus();
}

// Wiring ------------------------------------------------------------------------------------

function wireDropZone() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener(
    "drop",
    guarded(async (event) => {
      zone.classList.remove("dragging");
      await upload(Array.from(event.dataTransfer.files));
    }),
  );
  $("file-input").addEventListener(
    "change",
    guarded(async () => {
      const input = $("file-input");
      await upload(Array.from(input.files));
      input.value = "";
    }),
  );
}

$("sign-in-form").addEventListener("submit", guarded(signIn));
$("sign-out").addEventListener("click", () => signOut());
$("batch-form").addEventListener("submit", guarded(createBatch));
$("pipeline-form").addEventListener("submit", guarded(startPipeline));
$("download-csv").addEventListener("click", guarded(downloadCsv));
$("close-essay").addEventListener("click", closeEssay);
wireDropZone();
renderSignedIn();
document.body.dataset.ready = "true";
