// Streams a file chosen in the browser straight to the AstralytiQ upload endpoint
// (POST {base_url}astralytiq/api/datasets/{name}/versions), so that files of any size reach
// the server without passing through the kernel's websocket (tornado refuses messages over
// 10 MB there). The browser authenticates with the page's own session: its cookies and the
// `_xsrf` cookie echoed as the X-XSRFToken header. No token is ever held in widget state.
//
// Messages with the kernel (custom widget messages, never saved with the notebook):
//   to the kernel:   {type: "chosen", name, size, last_modified}
//                    {type: "head", name, size, complete} + one buffer (the first bytes)
//                    {type: "progress", loaded, total}
//                    {type: "result", status, body, url} | {type: "result", status: 0, error}
//   from the kernel: {type: "read", length}     send the first `length` bytes for a preview
//                    {type: "upload", name, query}  start the upload
//                    {type: "cancel"}             abort it
//                    {type: "reset"}              forget the chosen file

const PROGRESS_EVERY_MS = 100;

/** The server's base URL (ends with "/"), from the page JupyterLab, Notebook 7 and Voila
 * all render: the `jupyter-config-data` JSON holds `baseUrl`. Older pages only carry
 * `data-base-url` on <body> (Voila's classic templates add "voila/" to it, which is cut). */
export function baseUrl(doc) {
  const el = doc.getElementById("jupyter-config-data");
  if (el) {
    try {
      const config = JSON.parse(el.textContent || "{}");
      if (typeof config.baseUrl === "string" && config.baseUrl) {
        return withSlash(config.baseUrl);
      }
    } catch (_error) {
      // not JSON: fall through to the body attribute
    }
  }
  const fromBody = doc.body && doc.body.dataset ? doc.body.dataset.baseUrl : "";
  if (fromBody) {
    return withSlash(fromBody).replace(/voila\/$/, "");
  }
  return "/";
}

function withSlash(url) {
  return url.endsWith("/") ? url : url + "/";
}

/** The value of the `_xsrf` cookie jupyter_server sets, or "" when there is none. */
export function xsrfToken(cookie) {
  for (const part of (cookie || "").split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === "_xsrf") {
      return decodeURIComponent(rest.join("="));
    }
  }
  return "";
}

/** The request the upload makes: method, absolute URL and headers (no credentials other
 * than the XSRF echo: the browser adds the session cookies itself). `query` maps parameter
 * names to a string or a list of strings (repeated parameters). */
export function uploadRequest({ base, origin, name, query, xsrf }) {
  const url = new URL(base + "astralytiq/api/datasets/" + encodeURIComponent(name) + "/versions",
    origin);
  for (const [key, value] of Object.entries(query || {})) {
    for (const item of Array.isArray(value) ? value : [value]) {
      url.searchParams.append(key, item);
    }
  }
  const headers = { "Content-Type": "application/octet-stream" };
  if (xsrf) {
    headers["X-XSRFToken"] = xsrf;
  }
  return { method: "POST", url: url.toString(), headers };
}

function sizeText(bytes) {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = bytes;
  for (const unit of units) {
    if (value < 1000 || unit === "TB") {
      return unit === "B" ? `${value} B` : `${value.toFixed(1)} ${unit}`;
    }
    value /= 1000;
  }
  return `${bytes} B`;
}

// One state per widget model, shared by all its views: the chosen File (it never leaves the
// browser but through the upload) and the running request.
const states = new WeakMap();

function stateOf(model) {
  let state = states.get(model);
  if (!state) {
    state = { file: null, xhr: null, fraction: 0, views: new Set() };
    states.set(model, state);
    model.on("msg:custom", (message) => onMessage(model, state, message));
  }
  return state;
}

function redraw(state) {
  for (const view of state.views) {
    view();
  }
}

async function sendHead(model, state, length) {
  const file = state.file;
  if (!file) {
    return;
  }
  const end = Math.max(0, Math.min(file.size, length));
  const buffer = await file.slice(0, end).arrayBuffer();
  model.send({ type: "head", name: file.name, size: file.size, complete: end >= file.size },
    undefined, [buffer]);
}

/** The XSRF token of this page's session. A page that set no `_xsrf` cookie (Voila's)
 * gets one from any GET of the AstralytiQ API, as from every Jupyter page. */
async function sessionXsrf(base) {
  let token = xsrfToken(document.cookie);
  if (!token) {
    const url = new URL(base + "astralytiq/api/me", window.location.href);
    await fetch(url.toString(), { credentials: "same-origin" }).catch(() => null);
    token = xsrfToken(document.cookie);
  }
  return token;
}

async function startUpload(model, state, message) {
  const file = state.file;
  if (!file) {
    model.send({ type: "result", status: 0, error: "No file is chosen in this browser." });
    return;
  }
  if (state.xhr) {
    return;
  }
  const xhr = new XMLHttpRequest();
  state.xhr = xhr;
  const base = baseUrl(document);
  const request = uploadRequest({
    base,
    origin: window.location.href,
    name: message.name,
    query: message.query,
    xsrf: await sessionXsrf(base),
  });
  state.fraction = 0;
  xhr.open(request.method, request.url);
  for (const [key, value] of Object.entries(request.headers)) {
    xhr.setRequestHeader(key, value);
  }
  let last = 0;
  xhr.upload.addEventListener("progress", (event) => {
    const total = event.lengthComputable ? event.total : file.size;
    state.fraction = total ? event.loaded / total : 0;
    redraw(state);
    const now = Date.now();
    if (now - last >= PROGRESS_EVERY_MS || event.loaded === total) {
      last = now;
      model.send({ type: "progress", loaded: event.loaded, total });
    }
  });
  const finish = (content) => {
    state.xhr = null;
    state.fraction = 0;
    redraw(state);
    model.send(content);
  };
  xhr.addEventListener("load", () =>
    finish({ type: "result", status: xhr.status, body: xhr.responseText, url: request.url }));
  xhr.addEventListener("error", () =>
    finish({ type: "result", status: 0,
      error: "The upload failed: the server could not be reached." }));
  xhr.addEventListener("abort", () =>
    finish({ type: "result", status: 0, error: "The upload was cancelled.", cancelled: true }));
  redraw(state);
  // The File is the body: the browser reads it from disk as it sends, never whole in memory.
  xhr.send(file);
}

function onMessage(model, state, message) {
  if (message.type === "read") {
    sendHead(model, state, message.length);
  } else if (message.type === "upload") {
    startUpload(model, state, message);
  } else if (message.type === "cancel") {
    if (state.xhr) {
      state.xhr.abort();
    }
  } else if (message.type === "reset") {
    if (state.xhr) {
      state.xhr.abort();
    }
    state.file = null;
    redraw(state);
  }
}

function render({ model, el }) {
  const state = stateOf(model);
  el.classList.add("aq-browser-upload");
  const input = document.createElement("input");
  input.type = "file";
  input.style.display = "none";
  const choose = document.createElement("button");
  choose.type = "button";
  choose.className = "jupyter-button widget-button aq-choose";
  const label = document.createElement("span");
  label.className = "aq-file-label";
  label.style.margin = "0 8px";
  const progress = document.createElement("progress");
  progress.max = 1;
  const cancel = document.createElement("button");
  cancel.type = "button";
  cancel.className = "jupyter-button widget-button aq-cancel";
  cancel.textContent = "Cancel upload";
  el.append(input, choose, label, progress, cancel);

  function view() {
    input.accept = model.get("accept");
    choose.textContent = model.get("label");
    const busy = state.xhr !== null;
    choose.disabled = model.get("disabled") || busy;
    cancel.style.display = busy ? "" : "none";
    progress.style.display = busy ? "" : "none";
    progress.value = state.fraction;
    const file = state.file;
    label.textContent = file ? `${file.name} (${sizeText(file.size)})` : "No file chosen";
  }

  choose.addEventListener("click", () => input.click());
  cancel.addEventListener("click", () => state.xhr && state.xhr.abort());
  input.addEventListener("change", () => {
    const file = input.files && input.files[0];
    input.value = "";
    if (!file || state.xhr) {
      return;
    }
    state.file = file;
    redraw(state);
    model.send({ type: "chosen", name: file.name, size: file.size,
      last_modified: file.lastModified });
  });

  state.views.add(view);
  const traits = ["change:accept", "change:label", "change:disabled"];
  for (const trait of traits) {
    model.on(trait, view);
  }
  view();
  return () => {
    state.views.delete(view);
    for (const trait of traits) {
      model.off(trait, view);
    }
  };
}

export default { render };
