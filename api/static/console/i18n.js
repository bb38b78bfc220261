// Catalogues of the console's words: console/messages/<page>.json holds
// {"az": {...}, "en": {...}, "ru": {...}} keyed "page.key". Azerbaijani is the default;
// the choice is kept in localStorage and sets <html lang>.

export const LANGS = ["az", "en", "ru"];
const KEY = "diaspor.console.lang";
const messages = { az: {}, en: {}, ru: {} };
const loaded = new Set();
let lang = pickLang();

function pickLang() {
  const kept = localStorage.getItem(KEY);
  return LANGS.includes(kept) ? kept : "az";
}

export function currentLang() {
  return lang;
}

export function setLang(next) {
  if (!LANGS.includes(next)) return;
  lang = next;
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next;
}

/** Fetches a page's catalogue once (a missing one leaves its keys showing as themselves). */
export async function loadMessages(page) {
  if (loaded.has(page)) return;
  const r = await fetch(new URL(`./messages/${page}.json`, import.meta.url));
  if (!r.ok) throw new Error(`messages/${page}.json: ${r.status}`);
  const all = await r.json();
  for (const l of LANGS) Object.assign(messages[l], all[l] || {});
  loaded.add(page);
}

/** t("library.upload", {name: "x"}) — the words for a key in the chosen language, with
 * {name} placeholders filled; falls back to Azerbaijani, then to the key itself. */
export function t(key, vars) {
  let s = messages[lang][key] ?? messages.az[key] ?? key;
  if (vars) {
    for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  }
  return s;
}

document.documentElement.lang = lang;
