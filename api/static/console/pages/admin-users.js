// Admins: everyone who can sign in; create a user, change a role, disable or enable one.

import { replace } from "../lib.js";

export default {
  async render(root, ctx) {
    const { api, t, h } = ctx;
    const roles = { admin: () => t("app.role.admin"), editor: () => t("app.role.editor"), presenter: () => t("app.role.presenter") };
    const table = h("div", { class: "table-wrap", id: "users" }, h("p", { class: "loading" }, t("app.loading")));
    const problem = h("p", { class: "problem", role: "alert" });

    const roleSelect = (idName, value, onchange, label) => h("select", { id: idName, onchange, "aria-label": label },
      Object.keys(roles).map((r) => h("option", { value: r, selected: r === value }, roles[r]())));

    async function load() {
      let users;
      try {
        users = await api.all("/api/v1/auth/users?limit=100");
      } catch (e) {
        replace(table, h("p", { class: "problem" }, ctx.problemText(e)));
        return;
      }
      replace(table, h("table", { class: "stack" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("admin.username")), h("th", { scope: "col" }, t("admin.displayName")),
          h("th", { scope: "col" }, t("admin.role")), h("th", { scope: "col" }, t("admin.state")))),
        h("tbody", {}, users.map((u) => h("tr", { dataset: { user: u.username } },
          h("td", { "data-label": t("admin.username") }, u.username),
          h("td", { "data-label": t("admin.displayName") }, u.display_name),
          h("td", { "data-label": t("admin.role") },
            roleSelect(`role-${u.username}`, u.role, (e) => change(u, { role: e.target.value }, t("admin.confirmRole", { user: u.username })),
              t("admin.roleOf", { user: u.username }))),
          h("td", { "data-label": t("admin.state") },
            h("span", { class: `badge ${u.disabled ? "alarm" : "ok"}` }, u.disabled ? t("admin.disabled") : t("admin.active")), " ",
            h("button", {
              type: "button",
              class: u.disabled ? "" : "danger",
              onclick: () => change(u, { disabled: !u.disabled },
                u.disabled ? t("admin.confirmEnable", { user: u.username }) : t("admin.confirmDisable", { user: u.username })),
            }, u.disabled ? t("admin.enable") : t("admin.disable"))))))));
    }

    async function change(u, body, question) {
      if (!(await ctx.confirm(question))) {
        load();
        return;
      }
      try {
        await api.patch(`/api/v1/auth/users/${encodeURIComponent(u.username)}`, body);
        ctx.toast(t("admin.saved"), "ok");
      } catch (e) {
        ctx.toast(ctx.problemText(e), "error");
      }
      load();
    }

    const form = h("form", { class: "card", id: "new-user", "aria-labelledby": "new-user-title", onsubmit: create },
      h("h2", { id: "new-user-title" }, t("admin.newUser")),
      h("div", { class: "row" },
        h("div", {}, h("label", { for: "nu-username" }, t("admin.username")), h("input", { id: "nu-username", name: "username", required: true, autocomplete: "off" })),
        h("div", {}, h("label", { for: "nu-name" }, t("admin.displayName")), h("input", { id: "nu-name", name: "display_name" })),
        h("div", {}, h("label", { for: "nu-role" }, t("admin.role")), roleSelect("nu-role", "editor")),
        h("div", {}, h("label", { for: "nu-password" }, t("admin.password")), h("input", { id: "nu-password", name: "password", type: "password", required: true, minlength: 10, autocomplete: "new-password" }))),
      problem,
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("admin.create"))));

    async function create(e) {
      e.preventDefault();
      const data = new FormData(form);
      try {
        await api.post("/api/v1/auth/users", {
          username: data.get("username"),
          display_name: data.get("display_name"),
          role: form.querySelector("#nu-role").value,
          password: data.get("password"),
        });
        form.reset();
        problem.textContent = "";
        ctx.toast(t("admin.created"), "ok");
        load();
      } catch (err) {
        problem.textContent = ctx.problemText(err);
      }
    }

    replace(root, form, table);
    await load();
    return undefined;
  },
};
