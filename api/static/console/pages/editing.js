// What the schedule, playlists and programmes pages share: their stylesheet, whole lists
// read page by page, a problem in words, a modal dialog, and az/en/ru text fields.

import { LANGS } from "../i18n.js";

/** Links console/schedule.css once (the shell's index.html links only console.css). */
export function useStylesheet() {
  const href = new URL("../schedule.css", import.meta.url).href;
  if ([...document.querySelectorAll("link[rel=stylesheet]")].some((l) => l.href === href)) return;
  document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href }));
}

/** Every item of a paged list (`items`, `next_cursor`). */
export async function listAll(api, path, most = 2000) {
  const out = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const url = `${path}${sep}limit=100` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : "");
    const page = await api.get(url);
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && out.length < most);
  return out;
}

/** A managed resource's ETag, made from what a list gave (`id`, `version`) as the API
 * makes it: the first letter of its kind, its id, its version. */
export const etagOf = (plural, x) => `"${plural[0]}${x.id}v${x.version}"`;

/** Writes a managed resource: changes it (PATCH with If-Match) when it exists, else
 * creates it; answers what was stored. */
export function store(api, plural, existing, body) {
  const path = `/api/v1/manage/${plural}`;
  return existing
    ? api.patch(`${path}/${existing.id}`, body, { ifMatch: etagOf(plural, existing) })
    : api.post(path, body);
}

export function destroy(api, plural, existing) {
  return api.del(`/api/v1/manage/${plural}/${existing.id}`, { ifMatch: etagOf(plural, existing) });
}

/** Deletes a managed resource once the editor confirms `question`; `done` runs after.
 * A refusal (it is still in use: the API names what uses it) is shown in `alert`. */
export async function destroyAfterAsking(ctx, alert, plural, existing, question, done) {
  if (!(await ctx.confirm(question))) return;
  if (await attempt(alert, () => destroy(ctx.api, plural, existing))) await done();
}

/** Runs `work`; a refusal is shown in `alert` (the API's words) instead of thrown.
 * Answers whether it went through. */
export async function attempt(alert, work) {
  alert.textContent = "";
  try {
    await work();
    return true;
  } catch (err) {
    alert.textContent = problemText(err);
    return false;
  }
}

/** The API's own words for what went wrong (problem+json detail), else its title. */
export function problemText(err) {
  const p = err && err.problem;
  return (p && (p.detail || p.title)) || (err && err.message) || String(err);
}

/** A modal <dialog> (the browser traps focus in it and closes it on Esc). Returns
 * {dialog, close}; `onClose` runs however it closes. */
export function openDialog(h, title, body, onClose) {
  const id = `dlg-${Math.random().toString(36).slice(2)}`;
  const dialog = h("dialog", { class: "sched-dialog", "aria-labelledby": id },
    h("h2", { id }, title), body);
  document.body.append(dialog);
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (onClose) onClose();
  });
  dialog.showModal();
  return { dialog, close: () => dialog.open && dialog.close() };
}

/** Asks a question with several answers; resolves to the chosen value, or null on Esc. */
export function choose(h, title, message, answers) {
  return new Promise((resolve) => {
    let chosen = null;
    const buttons = answers.map(([value, label]) => h("button", {
      type: "button",
      class: value === null ? "secondary" : "",
      onclick: () => { chosen = value; box.close(); },
    }, label));
    const box = openDialog(h, title, h("div", {}, h("p", {}, message),
      h("div", { class: "sched-actions" }, ...buttons)), () => resolve(chosen));
  });
}

/** One labelled field; `input` is the control. */
export function field(h, label, input, hint) {
  const id = input.id || (input.id = `f-${Math.random().toString(36).slice(2)}`);
  return h("div", { class: "sched-field" }, h("label", { for: id }, label), input,
    hint ? h("small", {}, hint) : null);
}

/** Text inputs for az, en and ru; `read()` gives {az, en, ru} without the empty ones. */
export function textsFields(h, label, values, { name = "texts", multiline = false, required = false } = {}) {
  const inputs = {};
  const rows = LANGS.map((lang) => {
    inputs[lang] = h(multiline ? "textarea" : "input", {
      name: `${name}-${lang}`, lang, value: (values && values[lang]) || "",
      required: required && lang === "az", rows: multiline ? 2 : null,
    });
    return field(h, `${label} (${lang})`, inputs[lang]);
  });
  return {
    node: h("fieldset", { class: "sched-texts" }, h("legend", {}, label), ...rows),
    read() {
      const out = {};
      for (const lang of LANGS) {
        const v = inputs[lang].value.trim();
        if (v) out[lang] = v;
      }
      return out;
    },
  };
}

/** A title in the console's language, else Azerbaijani, else any. */
export function titleIn(texts, lang) {
  if (!texts) return "";
  return texts[lang] || texts.az || Object.values(texts)[0] || "";
}

/** A live status line (aria-live) for what a page is doing. */
export function statusLine(h) {
  return h("p", { class: "sched-status", role: "status", "aria-live": "polite" });
}
