// Calls to /api/: JSON in and out, the bearer token from sessionStorage, a prompt on 401.
import {h} from "./dom.js";

const TOKEN_KEY = "interplay.token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** GET a path with query parameters (empty values dropped); repeated: {key: [values]} sent as key=a&key=b. */
export function get(path, params = {}, repeated = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "" && v !== false) query.set(k, String(v));
  }
  for (const [k, values] of Object.entries(repeated)) (values || []).forEach((v) => query.append(k, String(v)));
  const qs = query.toString();
  return request("GET", qs ? `${path}?${qs}` : path);
}

export function post(path, body) {
  return request("POST", path, body);
}

export async function request(method, path, body, refused = false) {
  const headers = {Accept: "application/json"};
  if (token()) headers.Authorization = `Bearer ${token()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  } catch (err) {
    throw new ApiError(0, `cannot reach the Interplay server (${err.message}); is \`interplay serve\` running?`);
  }
  if (response.status === 401) {
    await askToken(refused || Boolean(token()));
    return request(method, path, body, true);
  }
  let data = null;
  const text = await response.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.error === "string" ? data.error : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

// One prompt at a time, however many requests were refused together.
let pending = null;

function askToken(wasRefused) {
  if (!pending) {
    pending = new Promise((resolve) => showPrompt(wasRefused, resolve)).finally(() => {
      pending = null;
    });
  }
  return pending;
}

function showPrompt(wasRefused, resolve) {
  const input = h("input", {type: "password", id: "token-input", name: "token", autocomplete: "current-password",
    placeholder: "bearer token", required: true, "aria-label": "API token"});
  const form = h("form", {class: "token-form"},
    h("h2", {}, "This server needs a token"),
    h("p", {}, "Interplay was started with ", h("code", {}, "--token"), ". Enter it to see the data; ",
      "it is kept in this browser tab only (sessionStorage)."),
    wasRefused ? h("p", {class: "bad", role: "alert"}, "That token was refused. Check it and try again.") : null,
    input,
    h("div", {class: "actions"}, h("button", {type: "submit", class: "primary"}, "Use token")));
  const overlay = h("div", {class: "overlay", id: "token-prompt", role: "dialog", "aria-modal": "true"}, form);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    overlay.remove();
    resolve();
  });
  document.body.append(overlay);
  input.focus();
}
