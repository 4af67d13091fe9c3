// The video2mp3 web page: sign in, upload videos with progress, follow the jobs, download
// the MP3s. Plain JavaScript against the gateway's HTTP API (see /docs); nothing is loaded
// from anywhere else. The token lives in sessionStorage: it ends with the tab, and no other
// site can read it (no cookie is ever set).
"use strict";

const TOKEN_KEY = "video2mp3.token";
const EMAIL_KEY = "video2mp3.email";
const POLL_MS = 1500;
const JOBS_SHOWN = 100;  // the API's largest page

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  email: sessionStorage.getItem(EMAIL_KEY) || "",
  maxUploadBytes: null,
  pollTimer: null,
  polling: false,
  uploads: new Set(), // XMLHttpRequests in flight
  jobCards: new Map(), // job_id -> the card's elements
};

// ---- words for people ----------------------------------------------------------------

function formatBytes(bytes) {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

function formatSeconds(seconds) {
  const total = Math.round(seconds);
  const minutes = Math.floor(total / 60);
  const rest = String(total % 60).padStart(2, "0");
  return `${minutes}:${rest}`;
}

/// What a failed job's reason means, in plain words (the converter's own words follow).
function explainFailure(reason) {
  const text = reason || "";
  const known = [
    [/^no audio stream/, "This video has no sound track, so there is no MP3 to make."],
    [/^not a media file/, "This file is not a video or audio file that can be read."],
    [/^empty file/, "The file is empty."],
    [/^truncated/, "The file is incomplete: it was probably cut off while copying or uploading."],
    [/delivered|attempts|gave up/i, "The conversion kept failing, so it was stopped."],
  ];
  for (const [pattern, words] of known) {
    if (pattern.test(text)) {
      return `${words} (${text})`;
    }
  }
  return text ? `The conversion failed: ${text}` : "The conversion failed.";
}

/// The message for an API answer that is not a success.
function explainStatus(status, body, retryAfter, context) {
  const reason = body && typeof body.error === "string" ? body.error : "";
  switch (status) {
    case 0:
      return "The server cannot be reached. Check your connection and try again.";
    case 400:
      return reason ? `The request was refused: ${reason}.` : "The request was refused.";
    case 401:
      return context === "login"
        ? "Wrong e-mail or password."
        : "You have been signed out (your session ended). Please sign in again.";
    case 404:
      return "That job no longer exists.";
    case 409:
      return reason ? `Not available yet: ${reason}.` : "The MP3 is not ready yet.";
    case 411:
      return "Your browser sent the file in a way the server does not accept.";
    case 413:
      return state.maxUploadBytes
        ? `The file is too large: the limit is ${formatBytes(state.maxUploadBytes)}.`
        : "The file is too large for this server.";
    case 429: {
      const seconds = Number(retryAfter);
      let wait = " Wait a while.";
      if (seconds >= 120) {
        wait = ` Wait ${Math.ceil(seconds / 60)} minutes, then try again.`;
      } else if (seconds > 0) {
        wait = ` Wait ${seconds} seconds, then try again.`;
      }
      return `Too many attempts: slow down.${wait}`;
    }
    case 503:
      return "The service is busy or restarting. Please try again in a moment.";
    default:
      return reason ? `Something went wrong (${status}): ${reason}.`
                    : `Something went wrong (status ${status}).`;
  }
}

// ---- messages and views ----------------------------------------------------------------

function showMessage(text, kind = "error") {
  const box = $("message");
  delete box.dataset.fromPoll;  // pollJobs marks its own messages after showing them
  box.textContent = text;
  box.className = kind === "info" ? "info" : "";
  box.hidden = false;
}

function clearMessage() {
  $("message").hidden = true;
  $("message").textContent = "";
}

function showSignedIn() {
  $("sign-in").hidden = true;
  $("workspace").hidden = false;
  $("account").hidden = false;
  $("who").textContent = state.email;
  startPolling();
}

function showSignedOut() {
  $("workspace").hidden = true;
  $("account").hidden = true;
  $("sign-in").hidden = false;
  $("password").value = "";
  $("email").value = state.email;
  $("email").focus();
}

function signOut(message) {
  for (const request of state.uploads) {
    request.abort();
  }
  state.uploads.clear();
  stopPolling();
  state.token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  $("uploads").replaceChildren();
  $("jobs").replaceChildren();
  state.jobCards.clear();
  showSignedOut();
  if (message) {
    showMessage(message);
  } else {
    clearMessage();
  }
}

// ---- the API ---------------------------------------------------------------------------

async function readBody(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) {
    try {
      return await response.json();
    } catch {
      return null;
    }
  }
  return null;
}

/// Calls the API with the token. Resolves to {ok, status, body, response}; a 401 signs out.
async function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (state.token) {
    headers.set("Authorization", `Bearer ${state.token}`);
  }
  let response;
  try {
    response = await fetch(path, { ...options, headers, cache: "no-store" });
  } catch {
    return { ok: false, status: 0, body: null, response: null };
  }
  const result = { ok: response.ok, status: response.status, response };
  if (!options.raw) {
    result.body = await readBody(response);
  }
  if (response.status === 401 && state.token) {
    signOut(explainStatus(401));
  }
  return result;
}

function basicCredentials(email, password) {
  // HTTP Basic carries UTF-8 (RFC 7617); btoa takes one byte per character.
  const bytes = new TextEncoder().encode(`${email}:${password}`);
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return `Basic ${btoa(binary)}`;
}

async function loadLimits() {
  const result = await api("limits");
  if (result.ok && result.body && Number.isFinite(result.body.max_upload_bytes)) {
    state.maxUploadBytes = result.body.max_upload_bytes;
    $("limit-hint").textContent =
      `Up to ${formatBytes(state.maxUploadBytes)} a file. Several files at once are fine.`;
  }
}

// ---- signing in ------------------------------------------------------------------------

async function onSignIn(event) {
  event.preventDefault();
  const email = $("email").value.trim();
  const password = $("password").value;
  const button = $("sign-in-button");
  button.disabled = true;
  clearMessage();
  try {
    let response;
    try {
      // X-Requested-With: a 401 then carries no Basic challenge, so the browser shows no
      // password dialog of its own.
      response = await fetch("login", {
        method: "POST",
        headers: { Authorization: basicCredentials(email, password),
                   "X-Requested-With": "XMLHttpRequest" },
        cache: "no-store",
      });
    } catch {
      showMessage(explainStatus(0));
      return;
    }
    if (!response.ok) {
      const body = await readBody(response);
      showMessage(explainStatus(response.status, body, response.headers.get("Retry-After"),
                                "login"));
      $("password").select();
      return;
    }
    state.token = (await response.text()).trim();
    state.email = email;
    sessionStorage.setItem(TOKEN_KEY, state.token);
    sessionStorage.setItem(EMAIL_KEY, email);
    $("password").value = "";
    showSignedIn();
    $("file-input").focus();
  } finally {
    button.disabled = false;
  }
}

// ---- uploads ---------------------------------------------------------------------------

function button(text, className, onClick) {
  const node = element("button", className, text);
  node.type = "button";
  node.addEventListener("click", onClick);
  return node;
}

function setState(badge, name, label) {
  badge.className = `state state-${name}`;
  badge.textContent = label;
}

function uploadFiles(files) {
  clearMessage();
  for (const file of files) {
    uploadFile(file);
  }
}

function uploadFile(file) {
  const card = element("li", "card upload");
  const top = element("div", "top");
  const name = element("span", "name", file.name);
  const badge = element("span");
  top.append(name, badge);
  const bar = element("progress");
  bar.max = 100;
  bar.value = 0;
  bar.setAttribute("aria-label", `Upload of ${file.name}`);
  const details = element("div", "details", `0 B of ${formatBytes(file.size)} (0%)`);
  const reason = element("div", "reason");
  reason.hidden = true;
  const actions = element("div", "actions");
  card.append(top, bar, details, reason, actions);
  $("uploads").append(card);

  const fail = (text, stateName = "failed", label = "Failed") => {
    setState(badge, stateName, label);
    bar.hidden = true;
    reason.textContent = text;
    reason.hidden = false;
    actions.replaceChildren(button("Dismiss", "secondary", () => card.remove()));
  };

  if (file.size === 0) {
    fail("The file is empty.");
    return;
  }
  if (state.maxUploadBytes !== null && file.size > state.maxUploadBytes) {
    fail(explainStatus(413));
    return;
  }

  setState(badge, "uploading", "Uploading");
  const request = new XMLHttpRequest();
  state.uploads.add(request);
  const cancel = button("Cancel", "danger", () => request.abort());
  cancel.setAttribute("aria-label", `Cancel the upload of ${file.name}`);
  actions.append(cancel);

  request.upload.addEventListener("progress", (event) => {
    const total = event.lengthComputable ? event.total : file.size;
    const percent = total > 0 ? Math.min(100, Math.floor((event.loaded / total) * 100)) : 0;
    bar.value = percent;
    details.textContent =
      `${formatBytes(Math.min(event.loaded, file.size))} of ${formatBytes(file.size)} (${percent}%)`;
  });
  request.addEventListener("abort", () => {
    state.uploads.delete(request);
    fail("Cancelled: nothing was kept.", "cancelled", "Cancelled");
  });
  request.addEventListener("error", () => {
    state.uploads.delete(request);
    // A refused body (over the limit) can end as a dropped connection before the answer.
    fail(explainStatus(0));
  });
  request.addEventListener("load", () => {
    state.uploads.delete(request);
    let body = null;
    try {
      body = JSON.parse(request.responseText);
    } catch {
      body = null;
    }
    if (request.status === 202) {
      setState(badge, "uploaded", "Uploaded");
      bar.value = 100;
      details.textContent = `${formatBytes(file.size)}, queued for conversion`;
      actions.replaceChildren();
      pollJobs();
      setTimeout(() => card.remove(), 4000);
      return;
    }
    if (request.status === 401) {
      signOut(explainStatus(401));
      return;
    }
    fail(explainStatus(request.status, body, request.getResponseHeader("Retry-After")));
  });

  const form = new FormData();
  form.append("file", file, file.name);
  request.open("POST", "upload");
  request.setRequestHeader("Authorization", `Bearer ${state.token}`);
  request.send(form);
}

// ---- jobs ------------------------------------------------------------------------------

const STATE_LABELS = {
  queued: "Queued",
  converting: "Converting",
  done: "Done",
  failed: "Failed",
};

function mp3Name(filename) {
  const base = (filename || "audio").replace(/\.[^./\\]*$/, "");
  return `${base || "audio"}.mp3`;
}

async function download(job, control) {
  control.disabled = true;
  try {
    const result = await api(`download?fid=${encodeURIComponent(job.mp3_fid)}`, { raw: true });
    if (!result.ok) {
      if (result.status !== 401) {
        const body = result.response ? await readBody(result.response) : null;
        showMessage(explainStatus(result.status, body));
      }
      return;
    }
    const blob = await result.response.blob();
    const link = element("a");
    link.href = URL.createObjectURL(blob);
    link.download = mp3Name(job.filename);
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 60000);
  } finally {
    control.disabled = false;
  }
}

async function deleteJob(job, control) {
  const what = `"${job.filename || job.job_id}"` + (job.mp3_fid ? " and its MP3" : "");
  if (!window.confirm(`Delete ${what}?`)) {
    return;
  }
  control.disabled = true;
  const result = await api(`jobs/${encodeURIComponent(job.job_id)}`, { method: "DELETE" });
  if (result.ok || result.status === 404) {
    // Keyboard users keep their place: focus moves to the next job (or the upload button).
    const card = state.jobCards.get(job.job_id);
    const next = card && (card.root.nextElementSibling || card.root.previousElementSibling);
    removeJobCard(job.job_id);
    const target = next ? next.querySelector("button, a") : $("file-input");
    if (target) {
      target.focus();
    }
    return;
  }
  control.disabled = false;
  if (result.status !== 401) {
    showMessage(explainStatus(result.status, result.body));
  }
}

function removeJobCard(id) {
  const card = state.jobCards.get(id);
  if (card) {
    card.root.remove();
    state.jobCards.delete(id);
  }
  $("no-jobs").hidden = state.jobCards.size > 0;
}

function createJobCard(job) {
  const root = element("li", "card job");
  root.dataset.jobId = job.job_id;
  const top = element("div", "top");
  const name = element("span", "name");
  const badge = element("span");
  top.append(name, badge);
  const bar = element("progress");
  bar.max = 100;
  const details = element("div", "details");
  const reason = element("div", "reason");
  const actions = element("div", "actions");
  root.append(top, bar, details, reason, actions);
  const card = { root, name, badge, bar, details, reason, actions, job: null, status: null };
  const remove = button("Delete", "danger", (event) => deleteJob(card.job, event.target));
  const get = button("Download MP3", "", (event) => download(card.job, event.target));
  card.remove = remove;
  card.download = get;
  return card;
}

/// Updates a job's card in place, so a button that has focus keeps it across refreshes.
function updateJobCard(card, job) {
  card.job = job;
  card.name.textContent = job.filename || "(no name)";
  setState(card.badge, job.status, STATE_LABELS[job.status] || job.status);
  card.remove.setAttribute("aria-label", `Delete ${job.filename || "the job"}`);
  card.download.setAttribute("aria-label", `Download the MP3 of ${job.filename || "the job"}`);

  const size = `video ${formatBytes(job.video_bytes || 0)}`;
  if (job.status === "converting" || job.status === "queued") {
    card.bar.hidden = false;
    card.bar.value = job.progress || 0;
    card.bar.setAttribute("aria-label", `Conversion of ${job.filename || "the job"}`);
    card.details.textContent = job.status === "converting"
      ? `${size}, converting: ${job.progress || 0}%`
      : `${size}, waiting for a converter`;
  } else {
    card.bar.hidden = true;
    if (job.status === "done") {
      card.details.textContent =
        `${size}, MP3 ${formatBytes(job.mp3_bytes || 0)}, ${formatSeconds(job.duration_s || 0)}`;
    } else {
      card.details.textContent = size;
    }
  }
  if (job.status === "failed") {
    card.reason.textContent = explainFailure(job.error);
    card.reason.hidden = false;
  } else {
    card.reason.hidden = true;
  }
  if (card.status !== job.status) {
    card.actions.replaceChildren(...(job.status === "done" ? [card.download, card.remove]
                                                           : [card.remove]));
    card.status = job.status;
  }
}

function renderJobs(jobs) {
  const list = $("jobs");
  const seen = new Set();
  jobs.forEach((job, index) => {
    seen.add(job.job_id);
    let card = state.jobCards.get(job.job_id);
    if (!card) {
      card = createJobCard(job);
      state.jobCards.set(job.job_id, card);
    }
    updateJobCard(card, job);
    if (list.children[index] !== card.root) {
      list.insertBefore(card.root, list.children[index] || null);
    }
  });
  for (const id of [...state.jobCards.keys()]) {
    if (!seen.has(id)) {
      removeJobCard(id);
    }
  }
  $("no-jobs").hidden = jobs.length > 0;
  $("jobs-more").hidden = jobs.length < JOBS_SHOWN;
}

async function pollJobs() {
  if (!state.token || state.polling) {
    return;
  }
  state.polling = true;
  try {
    const result = await api(`jobs?limit=${JOBS_SHOWN}`);
    if (result.ok && result.body && Array.isArray(result.body.jobs)) {
      renderJobs(result.body.jobs);
      if (!$("message").hidden && $("message").dataset.fromPoll === "1") {
        clearMessage();
      }
    } else if (state.token && result.status !== 401) {
      showMessage(explainStatus(result.status, result.body,
                                result.response && result.response.headers.get("Retry-After")));
      $("message").dataset.fromPoll = "1";
    }
  } finally {
    state.polling = false;
  }
}

function startPolling() {
  stopPolling();
  loadLimits();
  pollJobs();
  state.pollTimer = setInterval(() => {
    if (!document.hidden) {
      pollJobs();
    }
  }, POLL_MS);
}

function stopPolling() {
  if (state.pollTimer !== null) {
    clearInterval(state.pollTimer);
    state.pollTimer = null;
  }
}

// ---- start -----------------------------------------------------------------------------

function setUpDropZone() {
  const zone = $("drop-zone");
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  zone.addEventListener("dragover", (event) => {
    if (hasFiles(event)) {
      event.preventDefault();
      zone.classList.add("over");
    }
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    if (event.dataTransfer && event.dataTransfer.files.length > 0) {
      uploadFiles([...event.dataTransfer.files]);
    }
  });
  // A file dropped next to the zone must not replace the page with the file.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", onSignIn);
  $("sign-out").addEventListener("click", () => signOut());
  $("file-input").addEventListener("change", (event) => {
    uploadFiles([...event.target.files]);
    event.target.value = "";
  });
  setUpDropZone();
  if (state.token) {
    showSignedIn();
  } else {
    showSignedOut();
  }
});
