// The console's frame: sign-in, the session, the navigation the caller's permissions allow,
// the language chooser, toasts and confirmations, and a hash router (#/library, …) that
// loads each page's module when it is opened and disposes of it when another is.

import { createApi } from "./api.js";
import { LANGS, currentLang, loadMessages, setLang, t } from "./i18n.js";
import { h, ownZone, replace } from "./lib.js";
import { PAGES, allows } from "./pages/index.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const tools = document.getElementById("tools");
const toasts = document.getElementById("toasts");
const state = { me: null, dispose: null, token: 0 };

// Keys spelt out (not built from parts) so tests/test_console_i18n.py finds every one.
const LANG_NAMES = { az: () => t("app.lang.az"), en: () => t("app.lang.en"), ru: () => t("app.lang.ru") };
export const ROLE_NAMES = {
  admin: () => t("app.role.admin"),
  editor: () => t("app.role.editor"),
  presenter: () => t("app.role.presenter"),
};

const api = createApi({
  onSignedOut: () => {
    if (state.me) signedOut();
  },
});

export function toast(message, kind = "info") {
  const el = h("div", { class: `toast toast-${kind}`, role: kind === "error" ? "alert" : null }, message);
  toasts.appendChild(el);
  setTimeout(() => el.remove(), kind === "error" ? 10000 : 5000);
}

/** A modal question (native <dialog>: focus stays inside, Esc closes it as "no"). */
export function confirmDialog(message, { yes = t("app.confirm.yes"), no = t("app.confirm.no") } = {}) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const dlg = h(
      "dialog",
      { class: "dialog", "aria-labelledby": "confirm-text" },
      h("p", { id: "confirm-text" }, message),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => dlg.close("no") }, no),
        h("button", { type: "button", class: "primary", onclick: () => dlg.close("yes") }, yes),
      ),
    );
    dlg.addEventListener("close", () => {
      dlg.remove();
      if (opener && opener.focus) opener.focus();
      resolve(dlg.returnValue === "yes");
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    dlg.querySelector(".primary").focus();
  });
}

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function visiblePages() {
  return PAGES.filter((p) => p.needs.every((n) => allows(state.me, n)));
}

function drawChrome() {
  document.title = t("app.title");
  document.getElementById("skip-link").textContent = t("app.skip");
  document.getElementById("brand").textContent = t("app.brand");
  nav.setAttribute("aria-label", t("app.nav.label"));
  toasts.setAttribute("aria-label", t("app.toasts"));
  const chooser = h(
    "select",
    { id: "lang", "aria-label": t("app.language"), onchange: (e) => changeLang(e.target.value) },
    LANGS.map((l) => h("option", { value: l, selected: l === currentLang(), lang: l }, LANG_NAMES[l]())),
  );
  const who = state.me
    ? [
        h("span", { class: "who" }, t("app.signedInAs", { name: state.me.name, role: (ROLE_NAMES[state.me.role] || (() => state.me.role))() })),
        h("button", { type: "button", class: "secondary", id: "sign-out", onclick: signOut }, t("app.signOut")),
      ]
    : [];
  replace(tools, h("label", { class: "lang" }, chooser), who);
  if (!state.me) {
    replace(nav);
    return;
  }
  const here = currentId();
  replace(
    nav,
    h(
      "ul",
      {},
      visiblePages().map((p) =>
        h("li", {}, h("a", { href: `#/${p.id}`, "aria-current": p.id === here ? "page" : null }, t(p.titleKey))),
      ),
    ),
  );
}

function changeLang(lang) {
  setLang(lang);
  drawChrome();
  if (state.me) route();
  else drawSignIn();
}

function currentId() {
  return location.hash.replace(/^#\/?/, "").split("?")[0];
}

function dispose() {
  if (state.dispose) {
    try {
      state.dispose();
    } catch (e) {
      console.warn("a page did not clean up", e);
    }
  }
  state.dispose = null;
}

async function route() {
  if (!state.me) return;
  dispose();
  const token = ++state.token;
  const id = currentId();
  const page = PAGES.find((p) => p.id === id);
  if (!page) {
    const first = visiblePages()[0];
    if (first) navigate(`#/${first.id}`);
    else replace(main, h("h1", {}, t("app.nothingAllowed")));
    return;
  }
  drawChrome();
  const heading = () => h("h1", { id: "page-title" }, t(page.titleKey));
  if (!page.needs.every((n) => allows(state.me, n))) {
    replace(main, heading(), h("p", { class: "not-allowed", role: "alert" }, t("app.notAllowed")));
    return;
  }
  replace(main, heading(), h("p", { class: "loading", role: "status" }, t("app.loading")));
  let mod;
  try {
    await loadMessages(page.messages);
    mod = await import(new URL(page.module, new URL("./pages/", import.meta.url)).href);
  } catch (e) {
    console.warn(`page ${page.id} could not be loaded`, e);
    if (token === state.token) {
      replace(main, heading(), h("p", { class: "problem", role: "alert" }, t("app.pageMissing")));
    }
    return;
  }
  if (token !== state.token) return;
  document.title = `${t(page.titleKey)} — ${t("app.title")}`;
  // Busy until the page has drawn what it first fetches (tests wait for that too).
  const root = h("section", { class: `page page-${page.id.replace("/", "-")}`, "aria-labelledby": "page-title", "aria-busy": "true" });
  replace(main, heading(), root);
  try {
    const cleanup = await mod.default.render(root, context());
    root.removeAttribute("aria-busy");
    if (token === state.token) state.dispose = typeof cleanup === "function" ? cleanup : null;
    else if (typeof cleanup === "function") cleanup();
  } catch (e) {
    console.error(`page ${page.id} failed`, e);
    root.removeAttribute("aria-busy");
    root.appendChild(h("p", { class: "problem", role: "alert" }, problemText(e)));
  }
}

/** The words to show for a failed call: the API's detail, else a general sentence. */
export function problemText(e) {
  if (e && e.status === 404) return t("app.notAvailable");
  return (e && e.problem && (e.problem.detail || e.problem.title)) || t("app.failed");
}

function context() {
  return {
    api,
    t,
    h,
    me: state.me,
    lang: currentLang(),
    zone: ownZone(),
    toast,
    navigate,
    confirm: confirmDialog,
    can: (need) => allows(state.me, need),
    problemText,
  };
}

function drawSignIn(error) {
  dispose();
  drawChrome();
  const status = h("p", { id: "sign-in-error", class: "problem", role: "alert" }, error || "");
  const form = h(
    "form",
    { class: "sign-in card", "aria-labelledby": "sign-in-title", onsubmit: submit },
    h("h1", { id: "sign-in-title" }, t("app.signIn.title")),
    h("label", { for: "username" }, t("app.signIn.username")),
    h("input", { id: "username", name: "username", autocomplete: "username", required: true }),
    h("label", { for: "password" }, t("app.signIn.password")),
    h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true }),
    status,
    h("button", { type: "submit", class: "primary" }, t("app.signIn.submit")),
  );
  replace(main, form);
  form.querySelector("#username").focus();

  async function submit(ev) {
    ev.preventDefault();
    const data = new FormData(form);
    try {
      await api.signIn(data.get("username"), data.get("password"));
    } catch (e) {
      const key = e.status === 429 ? "app.signIn.throttled" : e.status === 401 ? "app.signIn.wrong" : null;
      status.textContent = key ? t(key) : problemText(e);
      return;
    }
    await signedIn();
  }
}

async function signedIn() {
  state.me = await api.get("/api/v1/auth/me");
  drawChrome();
  if (!currentId()) navigate(`#/${(visiblePages()[0] || { id: "me" }).id}`);
  else route();
}

function signedOut() {
  state.me = null;
  drawSignIn(t("app.signIn.expired"));
}

async function signOut() {
  await api.signOut();
  state.me = null;
  drawSignIn();
}

async function start() {
  await loadMessages("app");
  document.getElementById("skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    main.focus();
  });
  window.addEventListener("hashchange", () => {
    if (state.me) route();
  });
  if (await api.restore()) {
    try {
      await signedIn();
      return;
    } catch (e) {
      console.warn("the kept session did not work", e);
    }
  }
  drawSignIn();
}

start();
