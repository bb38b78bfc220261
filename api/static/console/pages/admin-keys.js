// Admins: API keys. A new key is shown once (it is stored only as a hash); revoking one
// stops it at once.

import { formatTime, replace } from "../lib.js";

export default {
  async render(root, ctx) {
    const { api, t, h } = ctx;
    const roles = { admin: () => t("app.role.admin"), editor: () => t("app.role.editor"), presenter: () => t("app.role.presenter") };
    const table = h("div", { class: "table-wrap", id: "keys" }, h("p", { class: "loading" }, t("app.loading")));
    const shown = h("div", { "aria-live": "polite", id: "new-key" });
    const problem = h("p", { class: "problem", role: "alert" });

    async function load() {
      let keys;
      try {
        keys = await api.all("/api/v1/auth/keys?limit=100");
      } catch (e) {
        replace(table, h("p", { class: "problem" }, ctx.problemText(e)));
        return;
      }
      replace(table, keys.length ? h("table", { class: "stack" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("admin.keyName")), h("th", { scope: "col" }, t("admin.role")),
          h("th", { scope: "col" }, t("admin.createdAt")), h("th", { scope: "col" }, t("admin.state")))),
        h("tbody", {}, keys.map((k) => h("tr", {},
          h("td", { "data-label": t("admin.keyName") }, k.name),
          h("td", { "data-label": t("admin.role") }, roles[k.role] ? roles[k.role]() : k.role),
          h("td", { "data-label": t("admin.createdAt") }, formatTime(k.created_at, ctx.zone, ctx.lang, { date: true })),
          h("td", { "data-label": t("admin.state") }, k.revoked ? t("admin.revoked")
            : h("button", { type: "button", class: "danger", onclick: () => revoke(k) }, t("admin.revoke")))))))
        : h("p", { class: "muted" }, t("admin.noKeys")));
    }

    async function revoke(k) {
      if (!(await ctx.confirm(t("admin.confirmRevoke", { name: k.name })))) return;
      try {
        await api.del(`/api/v1/auth/keys/${k.id}`);
        ctx.toast(t("admin.revokedNow"), "ok");
      } catch (e) {
        ctx.toast(ctx.problemText(e), "error");
      }
      load();
    }

    const role = h("select", { id: "nk-role" },
      Object.keys(roles).map((r) => h("option", { value: r, selected: r === "editor" }, roles[r]())));
    const form = h("form", { class: "card", "aria-labelledby": "new-key-title", onsubmit: create },
      h("h2", { id: "new-key-title" }, t("admin.newKey")),
      h("div", { class: "row" },
        h("div", {}, h("label", { for: "nk-name" }, t("admin.keyName")), h("input", { id: "nk-name", name: "name", required: true })),
        h("div", {}, h("label", { for: "nk-role" }, t("admin.role")), role)),
      problem,
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("admin.create"))));

    async function create(e) {
      e.preventDefault();
      try {
        const k = await api.post("/api/v1/auth/keys", { name: form.querySelector("#nk-name").value, role: role.value });
        form.reset();
        problem.textContent = "";
        replace(shown, h("div", { class: "card" }, h("p", { class: "ok" }, t("admin.keyOnce")),
          h("p", { class: "secret" }, k.key)));
        load();
      } catch (err) {
        problem.textContent = ctx.problemText(err);
      }
    }

    replace(root, form, shown, table);
    await load();
    return undefined;
  },
};
