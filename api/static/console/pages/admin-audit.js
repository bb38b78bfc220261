// Admins: the audit log, the latest first, a page at a time, filtered by kind of resource.

import { formatTime, replace } from "../lib.js";

const RESOURCES = ["channel", "programme", "episode", "playlist", "clock", "entry", "media"];

export default {
  async render(root, ctx) {
    const { api, t, h } = ctx;
    const resource = h("select", { id: "audit-resource" }, h("option", { value: "" }, t("admin.anyResource")),
      RESOURCES.map((r) => h("option", { value: r }, r)));
    const table = h("div", { class: "table-wrap", id: "audit", "aria-live": "polite" }, h("p", { class: "loading" }, t("app.loading")));
    const back = h("button", { type: "button", disabled: true, onclick: () => go(cursors.length - 2) }, t("admin.newer"));
    const forward = h("button", { type: "button", disabled: true, onclick: () => go(cursors.length) }, t("admin.older"));
    let cursors = [null]; // the cursor of each page seen, the first page's being none
    let nextCursor = null;

    function change(before, after) {
      const keys = new Set([...Object.keys(before || {}), ...Object.keys(after || {})]);
      return [...keys].filter((k) => JSON.stringify((before || {})[k]) !== JSON.stringify((after || {})[k]) && k !== "version" && k !== "updated_at")
        .slice(0, 6).join(", ");
    }

    async function go(index) {
      const cursor = index >= cursors.length ? nextCursor : cursors[index];
      const p = new URLSearchParams({ limit: "25" });
      if (resource.value) p.set("resource", resource.value);
      if (cursor) p.set("cursor", cursor);
      try {
        const page = await api.get(`/api/v1/manage/audit?${p}`);
        cursors = cursors.slice(0, index + 1);
        cursors[index] = cursor;
        nextCursor = page.next_cursor;
        back.disabled = index === 0;
        forward.disabled = !nextCursor;
        replace(table, page.items.length ? h("table", { class: "stack" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("admin.when")), h("th", { scope: "col" }, t("admin.who")),
            h("th", { scope: "col" }, t("admin.action")), h("th", { scope: "col" }, t("admin.resource")),
            h("th", { scope: "col" }, t("admin.changed")))),
          h("tbody", {}, page.items.map((a) => h("tr", {},
            h("td", { "data-label": t("admin.when") }, formatTime(a.at, ctx.zone, ctx.lang, { date: true, seconds: true })),
            h("td", { "data-label": t("admin.who") }, a.actor),
            h("td", { "data-label": t("admin.action") }, a.action),
            h("td", { "data-label": t("admin.resource") }, `${a.resource} ${a.resource_id}`),
            h("td", { "data-label": t("admin.changed") }, change(a.before, a.after))))))
          : h("p", { class: "muted" }, t("admin.auditEmpty")));
      } catch (e) {
        replace(table, h("p", { class: "problem" }, ctx.problemText(e)));
      }
    }

    resource.addEventListener("change", () => {
      cursors = [null];
      go(0);
    });
    replace(root,
      h("div", { class: "row card" }, h("div", {}, h("label", { for: "audit-resource" }, t("admin.resource")), resource)),
      table,
      h("div", { class: "actions" }, back, forward));
    await go(0);
    return undefined;
  },
};
