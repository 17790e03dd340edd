// The scoring page: keyboard-first scoring, the time spent on each item, and submitting without a
// page load.  Without this script the page is a plain form that posts and redirects.
//
// The next item arrives as an HTML fragment rendered by the server (untrusted text in it is already
// sanitised Markdown or escaped); it is parsed with DOMParser, which runs nothing, and swapped in.
// Messages from the server are shown with textContent only.

import { actionFor, clock, isControl, isTyping } from "./rate-keys.js";

const statusLine = document.getElementById("rate-status");
const dialog = document.getElementById("shortcuts");
let task = null; // the item on screen: {section, form, dims, current, timer}
let busy = false;

// --- Time on the item: counts only while the page is visible --------------------------------

function startTimer(section) {
  const out = section.querySelector("[data-timer]");
  const timer = { total: 0, since: document.hidden ? null : performance.now(), out, interval: null };
  if (out) {
    out.closest(".rate-timer").hidden = false;
    timer.interval = setInterval(() => { out.textContent = clock(elapsed(timer)); }, 1000);
  }
  return timer;
}

function elapsed(timer) {
  return timer.total + (timer.since === null ? 0 : performance.now() - timer.since);
}

document.addEventListener("visibilitychange", () => {
  if (!task) return;
  const timer = task.timer;
  if (document.hidden && timer.since !== null) {
    timer.total += performance.now() - timer.since;
    timer.since = null;
  } else if (!document.hidden && timer.since === null) {
    timer.since = performance.now();
  }
});

// --- Messages ---------------------------------------------------------------------------------

function say(text, level = "info") {
  statusLine.textContent = text || "";
  statusLine.className = `rate-status ${level}`;
}

// --- The item on screen -----------------------------------------------------------------------

function mount({ scroll = false } = {}) {
  const section = document.getElementById("rate-task");
  const form = section.querySelector("#rating-form");
  task = { section, form, dims: [], current: 0, timer: startTimer(section) };
  if (!form) {
    const link = section.querySelector("a.button");
    if (link) link.focus();
    return;
  }
  form.noValidate = true; // this script validates, with a message beside each question
  task.dims = [...form.querySelectorAll("fieldset.dim")];
  for (const fieldset of task.dims) fieldset.tabIndex = -1; // focusable by script, not a Tab stop
  form.addEventListener("submit", onSubmit);
  form.addEventListener("change", (event) => clearError(event.target.closest("fieldset.dim")));
  form.addEventListener("input", (event) => clearError(event.target.closest("fieldset.dim")));
  form.addEventListener("focusin", (event) => {
    const index = task.dims.indexOf(event.target.closest("fieldset.dim"));
    if (index >= 0) markCurrent(index);
  });
  const firstError = task.dims.findIndex((fieldset) => fieldset.classList.contains("has-error"));
  // On arrival the page stays at the top, prompt in view: on a narrow screen the questions are below
  // the responses, and scrolling to them would hide what is being rated.  Keys work all the same.
  focusDim(firstError >= 0 ? firstError : 0, { scroll: scroll || firstError >= 0 });
}

// --- Where am I: the item, which of its responses, and whether the prompt changed -------------

function whereAbouts(section) {
  const where = section && section.querySelector(".rate-where");
  return where ? { item: where.dataset.item, text: where.textContent.trim(), node: where } : null;
}

function markPromptChange(before, after) {
  if (!before || !after) return "";
  const same = before.item === after.item;
  const note = after.node.querySelector("[data-prompt-change]");
  note.textContent = same ? " · same prompt as before" : " · new prompt";
  note.hidden = false;
  task.section.classList.add(same ? "is-same-prompt" : "is-new-prompt");
  return same ? `Next: ${after.text}.` : `New prompt: ${after.text}.`;
}

function swap(html) {
  const parsed = new DOMParser().parseFromString(html, "text/html");
  const next = parsed.getElementById("rate-task");
  if (!next) throw new Error("the server's answer has no item in it");
  const before = whereAbouts(task.section);
  clearInterval(task.timer.interval);
  task.section.replaceWith(document.adoptNode(next));
  window.scrollTo(0, 0);
  mount();
  return markPromptChange(before, whereAbouts(task.section));
}

function markCurrent(index) {
  task.current = index;
  task.dims.forEach((fieldset, n) => fieldset.classList.toggle("is-current", n === index));
}

function radios(fieldset) {
  return [...fieldset.querySelectorAll("input[type=radio]")];
}

function focusDim(index, { scroll = true } = {}) {
  if (!task.dims.length) return;
  index = Math.max(0, Math.min(task.dims.length - 1, index));
  markCurrent(index);
  const fieldset = task.dims[index];
  const choices = radios(fieldset);
  const target = choices.find((r) => r.checked) || choices[0] || fieldset.querySelector("textarea") || fieldset;
  target.focus({ preventScroll: !scroll });
  if (scroll) fieldset.scrollIntoView({ block: "nearest" });
}

function choose(radio) {
  radio.checked = true;
  radio.dispatchEvent(new Event("change", { bubbles: true }));
}

function pick(key) {
  const fieldset = task.dims[task.current];
  if (!fieldset) return;
  const radio = radios(fieldset).find((r) => (r.dataset.keys || "").split(" ").includes(key));
  if (!radio) return;
  choose(radio);
  // Move on to the next scored question, so "4 3 1 Enter" rates a whole item.
  const next = task.dims.findIndex((f, n) => n > task.current && radios(f).length > 0);
  if (next >= 0) focusDim(next);
  else radio.focus();
}

function step(by) {
  const fieldset = task.dims[task.current];
  const choices = fieldset ? radios(fieldset) : [];
  if (!choices.length) return;
  const at = choices.findIndex((r) => r.checked);
  const to = at < 0 ? (by > 0 ? 0 : choices.length - 1) : Math.max(0, Math.min(choices.length - 1, at + by));
  choose(choices[to]);
  choices[to].focus();
}

function togglePanel(name) {
  const panel = document.querySelector(`details[data-panel="${name}"]`);
  if (panel) panel.open = !panel.open;
}

function toggleHelp() {
  if (dialog.open) dialog.close();
  else dialog.showModal();
}

// --- Checking and sending ---------------------------------------------------------------------

function clearError(fieldset) {
  if (!fieldset || !fieldset.classList.contains("has-error")) return;
  fieldset.classList.remove("has-error");
  const out = fieldset.querySelector(".field-error");
  if (out) out.textContent = "";
}

function answered(fieldset) {
  const choices = radios(fieldset);
  if (choices.length) return choices.some((r) => r.checked);
  const box = fieldset.querySelector("textarea");
  return Boolean(box && box.value.trim());
}

function missingAnswers() {
  const missing = [];
  for (const fieldset of task.dims) {
    if (fieldset.dataset.required !== "true" || answered(fieldset)) continue;
    fieldset.classList.add("has-error");
    fieldset.querySelector(".field-error").textContent = radios(fieldset).length
      ? "Required: pick one." : "Required: please write a few words.";
    missing.push(fieldset);
  }
  return missing;
}

function showErrors(errors) {
  const elsewhere = [];
  for (const [key, message] of Object.entries(errors || {})) {
    const out = task.form.querySelector(`[data-error-for="${CSS.escape(key)}"]`);
    if (out) {
      out.textContent = message;
      out.closest("fieldset.dim").classList.add("has-error");
    } else {
      elsewhere.push(message);
    }
  }
  say(elsewhere.length ? elsewhere.join(" ") : "Please fix the marked questions.", "error");
  const first = task.dims.findIndex((f) => f.classList.contains("has-error"));
  if (first >= 0) focusDim(first);
}

function csrfToken() {
  // The cookie first: after logging in again (in another tab) the token in the page is stale.
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  if (cookie) return decodeURIComponent(cookie.slice("csrftoken=".length));
  const field = task.form && task.form.querySelector("[name=csrfmiddlewaretoken]");
  return field ? field.value : "";
}

const LOGIN_URL = statusLine.dataset.loginUrl || "/accounts/login/";

function loggedOut(response) {
  // The session ended: login_required sent the script to the login page, or the CSRF check (whose
  // token changes at every login) refused the post.  Either way nothing was saved.
  if (response.status === 401 || response.status === 403) return true;
  return response.redirected && new URL(response.url).pathname === new URL(LOGIN_URL, location.href).pathname;
}

function sayLoggedOut() {
  say("You have been logged out, so this was not saved. Your answers are still here: ", "error");
  const link = document.createElement("a");
  link.href = `${LOGIN_URL}?next=${encodeURIComponent(location.pathname)}`;
  link.target = "_blank";
  link.rel = "noopener";
  link.textContent = "log in again";
  statusLine.append(link, " (in a new tab), then come back and submit.");
}

async function send(url, body) {
  if (busy) return;
  busy = true;
  task.section.classList.add("is-busy");
  try {
    const response = await fetch(url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null; // not JSON: a login page after the session ended, a CSRF failure, a server error
    }
    if (!data && loggedOut(response)) {
      sayLoggedOut();
    } else if (!data) {
      say(`Not saved (the server answered ${response.status}). Your answers are still here; reload the page if this persists.`, "error");
    } else if (data.status === "invalid") {
      showErrors(data.errors);
    } else if (data.status === "redirect") {
      location.assign(data.redirect); // a gate sent the rater on: an external worker's completion page
    } else {
      const where = swap(data.html);
      say([data.notice, where].filter(Boolean).join(" "), data.level);
    }
  } catch (error) {
    say(`Not sent (${error.message}). Your answers are still here: press Enter to try again.`, "error");
  } finally {
    busy = false;
    if (task) task.section.classList.remove("is-busy");
  }
}

function submitRating() {
  if (!task.form) return;
  const missing = missingAnswers();
  if (missing.length) {
    say(`Answer the required question${missing.length > 1 ? "s" : ""} first (${missing.length} missing).`, "error");
    focusDim(task.dims.indexOf(missing[0]));
    return;
  }
  const body = new FormData(task.form);
  body.set("csrfmiddlewaretoken", csrfToken());
  body.set("duration_ms", String(Math.round(elapsed(task.timer))));
  send(task.form.getAttribute("action"), body);
}

function skipItem() {
  if (!task.form) return;
  const button = task.form.querySelector("button[name=skip]");
  const body = new FormData();
  body.set("csrfmiddlewaretoken", csrfToken());
  body.set("skip_reason", task.form.elements.skip_reason.value);
  send(button.getAttribute("formaction"), body);
}

function onSubmit(event) {
  event.preventDefault();
  if (event.submitter && event.submitter.name === "skip") skipItem();
  else submitRating();
}

// --- Keys -------------------------------------------------------------------------------------

document.addEventListener("keydown", (event) => {
  if (!task || event.defaultPrevented || event.isComposing) return;
  const target = event.target;
  const action = actionFor(event, {
    typing: isTyping(target),
    control: isControl(target),
    dialogOpen: dialog.open,
    inSkipReason: target && target.name === "skip_reason",
  });
  if (!action) return;
  event.preventDefault();
  switch (action.type) {
    case "help": toggleHelp(); break;
    case "submit": submitRating(); break;
    case "skip": skipItem(); break;
    case "previous": {
      // Back to the last item rated in this session, answers filled in, to revise it.
      const link = document.querySelector("[data-previous]");
      if (link) location.assign(link.href);
      break;
    }
    case "toggle": togglePanel(action.panel); break;
    case "move": focusDim(task.current + action.by); break;
    case "step": step(action.by); break;
    case "pick": pick(action.key); break;
    case "leave-text": {
      const fieldset = target.closest("fieldset.dim");
      if (fieldset) fieldset.focus();
      else target.blur();
      break;
    }
    default: break;
  }
});

document.querySelector("[data-action=shortcuts]").addEventListener("click", toggleHelp);
mount();
