// A presenter's own page: their next slots on air (GET /api/v1/auth/me/slots) and their
// stream key: when it was made and its last characters, and a new one on request, shown
// once (the old one stops working at once).

import { formatTime, replace } from "../lib.js";

export default {
  async render(root, ctx) {
    const { api, t, h } = ctx;
    const slotsBox = h("div", { id: "slots", class: "table-wrap" }, h("p", { class: "loading" }, t("app.loading")));
    const keyBox = h("div", { id: "stream-key", class: "card", "aria-live": "polite" }, h("p", { class: "loading" }, t("app.loading")));
    replace(root,
      h("section", { "aria-labelledby": "slots-title" }, h("h2", { id: "slots-title" }, t("me.slots")), slotsBox),
      h("section", { "aria-labelledby": "key-title" }, h("h2", { id: "key-title" }, t("me.streamKey")), keyBox));

    try {
      const body = await api.get("/api/v1/auth/me/slots?days=14");
      const slots = body.slots || [];
      replace(slotsBox, slots.length
        ? h("table", { class: "stack" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("me.when")), h("th", { scope: "col" }, t("me.programme")),
            h("th", { scope: "col" }, t("me.channel")))),
          h("tbody", {}, slots.map((s) => h("tr", {},
            h("td", { "data-label": t("me.when") },
              `${formatTime(s.start, ctx.zone, ctx.lang, { date: true })}–${formatTime(s.end, ctx.zone, ctx.lang)}`),
            h("td", { "data-label": t("me.programme") }, s.programme_title || s.programme),
            h("td", { "data-label": t("me.channel") }, s.channel)))))
        : h("p", { class: "muted" }, t("me.noSlots")));
    } catch (e) {
      replace(slotsBox, h("p", { class: "muted" }, e.status === 404 ? t("me.slotsUnavailable") : ctx.problemText(e)));
    }

    async function drawKey(fresh) {
      let current = null;
      if (!fresh) {
        try {
          current = await api.get("/api/v1/auth/me/stream-key");
        } catch (e) {
          if (e.status !== 404) {
            replace(keyBox, h("p", { class: "problem" }, ctx.problemText(e)));
            return;
          }
        }
      }
      const shown = fresh
        ? [h("p", { class: "ok" }, t("me.newKey")), h("p", { class: "secret", id: "new-stream-key" }, fresh.key),
          h("p", { class: "muted" }, t("me.onceOnly")),
          (fresh.mounts || []).length ? h("p", {}, t("me.mounts", { mounts: fresh.mounts.join(", "), user: fresh.username })) : null]
        : current
          ? [h("p", { id: "key-hint" }, t("me.keyHint", { hint: current.hint, when: formatTime(current.created_at, ctx.zone, ctx.lang, { date: true }) }))]
          : [h("p", { id: "key-hint" }, t("me.noKey"))];
      replace(keyBox, shown,
        h("div", { class: "actions" },
          h("button", { type: "button", class: "primary", id: "rotate-key", onclick: rotate }, current || fresh ? t("me.rotate") : t("me.create"))));
    }

    async function rotate() {
      if (!(await ctx.confirm(t("me.confirmRotate")))) return;
      try {
        const fresh = await api.post("/api/v1/auth/me/stream-key", {});
        drawKey(fresh);
      } catch (e) {
        ctx.toast(ctx.problemText(e), "error");
      }
    }

    await drawKey(null);
    return undefined;
  },
};
