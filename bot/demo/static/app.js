// The demo's page: draws what the demo's Slack says this person sees, and reports every
// click, pick, message and form to it; it turns them into the requests Slack sends to PTM.
"use strict";

const ui = {
  as: document.getElementById("as"),
  me: document.getElementById("me"),
  nav: document.getElementById("conversations"),
  title: document.getElementById("title"),
  subtitle: document.getElementById("subtitle"),
  notices: document.getElementById("notices"),
  pane: document.getElementById("pane"),
  composer: document.getElementById("composer"),
  text: document.getElementById("text"),
  threadMode: document.getElementById("thread-mode"),
  backdrop: document.getElementById("modal-backdrop"),
  modal: document.getElementById("modal"),
};
const view = {
  me: localStorage.getItem("ptm-demo-as") || "",
  conv: localStorage.getItem("ptm-demo-conv") || "",
  thread: null,
  drawnPane: "",
  drawnModal: "",
  drawnNav: "",
  busy: 0,
};

async function post(path, body) {
  view.busy += 1;
  document.body.dataset.busy = "1";
  try {
    const resp = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ as: view.me, ...body }),
    });
    if (!resp.ok) console.warn(path, resp.status, await resp.text());
  } finally {
    view.busy -= 1;
    if (!view.busy) delete document.body.dataset.busy;
    await refresh();
  }
}

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
  if (text !== undefined) node.textContent = text;
  return node;
}

function drawNav(state) {
  const key = JSON.stringify([state.conversations, state.conversation, state.people, state.me]);
  if (key === view.drawnNav) return;
  view.drawnNav = key;
  ui.as.replaceChildren(...state.people.map((p) => {
    const option = el("option", { value: p.id }, `${p.name} — ${p.company}`);
    if (p.id === state.me.id) option.selected = true;
    return option;
  }));
  ui.me.textContent = `${state.me.title}`;
  const groups = [["Channels", "channel"], ["Direct messages", "dm"], ["Apps", "home"]];
  const parts = [];
  for (const [label, kind] of groups) {
    const items = state.conversations.filter((c) => c.kind === kind);
    if (!items.length) continue;
    parts.push(el("h2", {}, label));
    for (const c of items) {
      const name = kind === "channel" ? `# ${c.name}` : kind === "dm" ? `${c.name} (app)` : "PTM — Home";
      const link = el("a", { "data-conv": c.id, role: "button" }, name);
      if (c.shared) link.append(el("span", { class: "sim-connect", title: "Slack Connect" }, `⇄ ${c.with.join(", ")}`));
      if (c.id === state.conversation) link.classList.add("active");
      parts.push(link);
    }
  }
  ui.nav.replaceChildren(...parts);
}

function drawPane(state) {
  ui.title.textContent = state.title;
  const c = state.conversations.find((x) => x.id === state.conversation);
  ui.subtitle.textContent = c && c.shared ? `Slack Connect channel shared with ${c.with.join(", ")}`
    : c && c.kind === "channel" ? "Only people of your company" : "";
  if (state.pane !== view.drawnPane) {
    const atBottom = ui.pane.scrollHeight - ui.pane.scrollTop - ui.pane.clientHeight < 40;
    ui.pane.innerHTML = state.pane;
    view.drawnPane = state.pane;
    if (atBottom) ui.pane.scrollTop = ui.pane.scrollHeight;
  }
  ui.text.disabled = !state.composer.enabled;
  ui.text.placeholder = state.composer.hint;
  ui.threadMode.hidden = !view.thread;
}

function drawNotices(state) {
  ui.notices.replaceChildren(...state.notices.map((n) => {
    const box = el("div", { class: `sim-notice${n.error ? " sim-error" : ""}`, role: n.error ? "alert" : "status" });
    box.append(el("span", {}, n.text));
    const close = el("button", { type: "button", "data-dismiss": n.id, "aria-label": "Dismiss" }, "×");
    box.append(close);
    return box;
  }));
}

function drawModal(state) {
  const modal = state.modal;
  const key = modal ? `${modal.id}:${modal.drawn}` : "";
  if (key === view.drawnModal) return;
  view.drawnModal = key;
  ui.backdrop.hidden = !modal;
  if (!modal) {
    ui.modal.replaceChildren();
    return;
  }
  // Keep what the person typed when only the errors changed.
  const typed = modal.id === ui.modal.dataset.view ? readInputs() : null;
  ui.modal.dataset.view = modal.id;
  ui.modal.innerHTML = modal.html;
  if (typed) writeInputs(typed);
  const first = ui.modal.querySelector("[data-input]");
  if (first && first.focus) first.focus();
}

async function refresh() {
  const query = new URLSearchParams({ as: view.me, conv: view.conv });
  let state;
  try {
    state = await (await fetch(`/sim/state?${query}`)).json();
  } catch (err) {
    return;
  }
  view.me = state.me.id;
  view.conv = state.conversation;
  localStorage.setItem("ptm-demo-as", view.me);
  localStorage.setItem("ptm-demo-conv", view.conv);
  drawNav(state);
  drawPane(state);
  drawNotices(state);
  drawModal(state);
  document.body.dataset.version = state.version;
}

// --- reading controls ---------------------------------------------------------------------

function picked(control) {
  const kind = control.dataset.kind;
  if (kind === "button") return { value: control.dataset.value };
  if (kind === "static_select" || kind === "overflow" || kind === "external_select") return { option: control.value };
  if (kind === "users_select") return { selected_user: control.value };
  if (kind === "datepicker") return { selected_date: control.value };
  if (kind === "multi_static_select") return { options: [...control.selectedOptions].map((o) => o.value) };
  if (kind === "checkboxes" || kind === "radio_buttons") {
    const chosen = [...control.querySelectorAll("input:checked")].map((i) => i.value);
    return kind === "checkboxes" ? { options: chosen } : { option: chosen[0] };
  }
  return {};
}

function inputValue(control) {
  const kind = control.dataset.kind;
  const got = picked(control);
  if (kind === "plain_text_input") return control.value;
  if (kind === "multi_static_select" || kind === "checkboxes") return got.options;
  if (kind === "radio_buttons" || kind === "static_select" || kind === "external_select") return got.option || null;
  if (kind === "users_select") return got.selected_user || null;
  if (kind === "datepicker") return got.selected_date || null;
  return null;
}

function readInputs() {
  const values = {};
  ui.modal.querySelectorAll("[data-input]").forEach((c) => { values[c.dataset.block] = inputValue(c); });
  return values;
}

function writeInputs(values) {
  ui.modal.querySelectorAll("[data-input]").forEach((c) => {
    const v = values[c.dataset.block];
    if (v === undefined || v === null) return;
    if (c.dataset.kind === "checkboxes" || c.dataset.kind === "radio_buttons") {
      c.querySelectorAll("input").forEach((i) => { i.checked = [].concat(v).includes(i.value); });
    } else if (c.multiple) {
      [...c.options].forEach((o) => { o.selected = v.includes(o.value); });
    } else {
      c.value = v;
    }
  });
}

function whereOf(control) {
  if (ui.modal.contains(control)) return { view_id: ui.modal.dataset.view };
  if (control.closest("[data-view]")) return { view_id: "home" };
  const message = control.closest(".sim-message");
  return { channel: message.dataset.channel, ts: message.dataset.ts };
}

async function act(control) {
  if (control.dataset.confirm && !window.confirm(control.dataset.confirm)) return;
  if (control.dataset.url) window.open(control.dataset.url, "_blank", "noopener");
  const where = whereOf(control);
  const body = { where, block_id: control.dataset.block, action_id: control.dataset.action, ...picked(control) };
  if (where.view_id && where.view_id !== "home") body.values = readInputs();
  await post("/sim/act", body);
}

// --- events -------------------------------------------------------------------------------

ui.as.addEventListener("change", () => {
  // Stay in the same conversation when the new person is in it too (the server says if not).
  view.me = ui.as.value;
  view.thread = null;
  view.drawnPane = "";
  refresh();
});

ui.nav.addEventListener("click", async (event) => {
  const link = event.target.closest("[data-conv]");
  if (!link) return;
  view.conv = link.dataset.conv;
  view.thread = null;
  if (view.conv === "home") await post("/sim/home", {});
  else refresh();
});

ui.composer.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = ui.text.value;
  if (!text.trim()) return;
  ui.text.value = "";
  await post("/sim/say", { conv: view.conv, text, thread_ts: view.thread });
});

document.getElementById("thread-cancel").addEventListener("click", () => {
  view.thread = null;
  ui.threadMode.hidden = true;
});

document.addEventListener("click", async (event) => {
  const dismiss = event.target.closest("[data-dismiss]");
  if (dismiss) return post("/sim/dismiss", { id: Number(dismiss.dataset.dismiss) });
  const reply = event.target.closest(".sim-reply");
  if (reply) {
    view.thread = reply.dataset.ts;
    ui.threadMode.hidden = false;
    ui.text.focus();
    return;
  }
  if (event.target.closest(".sim-close")) return post("/sim/close", {});
  const button = event.target.closest("button[data-action]");
  if (button && !button.hasAttribute("data-input")) await act(button);
});

document.addEventListener("change", async (event) => {
  const control = event.target.closest("[data-action]");
  if (!control || control.hasAttribute("data-input") || control.tagName === "BUTTON") return;
  const got = picked(control);
  if (Object.values(got).every((v) => v === "" || v === undefined)) return;
  await act(control);
});

ui.modal.addEventListener("submit", async (event) => {
  event.preventDefault();
  await post("/sim/submit", { view_id: ui.modal.dataset.view, values: readInputs() });
});

refresh();
setInterval(() => { if (!view.busy) refresh(); }, 600);
