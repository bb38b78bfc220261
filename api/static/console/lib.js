// The console's small DOM and time helpers. `h` builds elements from data without ever
// parsing it as HTML: text children become text nodes, attributes are set one by one.

/**
 * h("button", {class: "primary", onclick: fn, "aria-label": "…"}, "text", otherNode, [more])
 * Attributes starting with "on" become listeners; `true` sets a boolean attribute, `false`
 * and null/undefined leave it out; `dataset` and `style` may be objects.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === "dataset" || k === "style") {
      Object.assign(el[k], v);
    } else if (k === "value" || k === "checked" || k === "selected") {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Empties an element and puts new children in it. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** "14:05" (or with the date, "03.12 14:05" as `lang` writes it) of an ISO instant, in `zone`, in `lang`. */
export function formatTime(iso, zone, lang, { date = false, seconds = false } = {}) {
  if (!iso) return "";
  const d = typeof iso === "string" ? new Date(iso) : iso;
  const opts = { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) opts.second = "2-digit";
  if (date) Object.assign(opts, { day: "2-digit", month: "2-digit" }); // every locale has it
  return new Intl.DateTimeFormat(lang, opts).format(d);
}

/** A duration in milliseconds as m:ss (or h:mm:ss). */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "";
  const s = Math.round(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

/** A size in bytes, short, in `lang`'s digits. */
export function formatBytes(n, lang) {
  const units = ["B", "kB", "MB", "GB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i += 1;
  }
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(n)} ${units[i]}`;
}

/** The browser's own zone (the editor's), for showing beside the channel's. */
export function ownZone() {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}
