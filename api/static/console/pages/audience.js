// Editors: the audience over a period (GET /api/v1/reports/audience): the figures, grouped as
// asked, the charts (SVG from the API, drawn here as parsed SVG, never as HTML), a CSV of the
// rows, and the month's page to send to the committee.

import { formatDuration, formatTime, replace } from "../lib.js";

const GROUPS = ["day", "week", "month", "hour", "channel", "programme", "episode", "country", "surface", "player", "device", "os"];
const CHARTS = ["day", "week", "countries", "programmes"];

function isoDay(d) {
  return d.toISOString().slice(0, 10);
}

export default {
  async render(root, ctx) {
    const { api, t, h } = ctx;
    const today = new Date();
    const from = h("input", { type: "date", id: "audience-from", value: isoDay(new Date(today.getTime() - 7 * 86400000)) });
    const to = h("input", { type: "date", id: "audience-to", value: isoDay(new Date(today.getTime() + 86400000)) });
    const group = h("select", { id: "audience-group" }, GROUPS.map((g) => h("option", { value: g }, t(`audience.by.${g}`))));
    const figures = h("div", { id: "audience-figures", "aria-live": "polite" });
    const table = h("div", { class: "table-wrap", id: "audience-rows" });
    const charts = h("div", { id: "audience-charts" });
    const links = h("div", { class: "actions", id: "audience-links" });

    function query(extra = {}) {
      const p = new URLSearchParams({ from: `${from.value}T00:00:00Z`, to: `${to.value}T00:00:00Z`, tz: ctx.zone, lang: ctx.lang, ...extra });
      return p;
    }

    function number(n, digits = 0) {
      return new Intl.NumberFormat(ctx.lang, { maximumFractionDigits: digits }).format(n);
    }

    function label(r) {
      if (group.value === "hour") return formatTime(r.key, ctx.zone, ctx.lang, { date: true });
      if (["day", "week", "month"].includes(group.value)) return r.key.slice(0, group.value === "month" ? 7 : 10);
      return r.label || "—";
    }

    async function chart(name) {
      const text = await api.get(`/api/v1/reports/audience/charts/${name}.svg?${query()}`);
      const doc = new DOMParser().parseFromString(text, "image/svg+xml");
      const svg = document.importNode(doc.documentElement, true);
      return h("figure", { class: "card chart", "data-chart": name }, svg);
    }

    async function download(path, type, name) {
      const body = await api.get(path);
      const url = URL.createObjectURL(new Blob([body], { type }));
      return h("a", { href: url, download: name, class: "button" }, t(`audience.${name.endsWith(".csv") ? "csv" : "monthly"}`));
    }

    async function show() {
      replace(figures, h("p", { class: "loading" }, t("app.loading")));
      try {
        const report = await api.get(`/api/v1/reports/audience?${query({ group_by: group.value })}`);
        const total = report.total;
        const cells = [
          ["audience.sessions", number(total.sessions)],
          ["audience.uniques", number(total.unique_listeners)],
          ["audience.hours", number(total.listening_hours, 1)],
          ["audience.averageSession", formatDuration(total.average_session_s * 1000)],
          ["audience.averageConcurrent", number(total.average_concurrent, 2)],
          ["audience.peak", total.peak_concurrent === null ? "—" : number(total.peak_concurrent)],
        ];
        replace(figures, h("dl", { class: "figures" }, cells.map(([k, v]) => h("div", { class: "card" }, h("dt", {}, t(k)), h("dd", {}, v)))),
          h("p", { class: "muted" }, t("audience.uniquesNote")));
        replace(table, report.rows.length ? h("table", { class: "stack" },
          h("thead", {}, h("tr", {}, ["audience.group", "audience.sessions", "audience.uniques", "audience.hours"].map((k) => h("th", { scope: "col" }, t(k))))),
          h("tbody", {}, report.rows.map((r) => h("tr", {},
            h("td", { "data-label": t("audience.group") }, label(r)),
            h("td", { "data-label": t("audience.sessions") }, number(r.sessions)),
            h("td", { "data-label": t("audience.uniques") }, number(r.unique_listeners)),
            h("td", { "data-label": t("audience.hours") }, number(r.listening_hours, 1))))))
          : h("p", { class: "muted" }, t("audience.empty")));
        replace(links,
          await download(`/api/v1/reports/audience?${query({ group_by: group.value, format: "csv" })}`, "text/csv", "audience.csv"),
          await download(`/api/v1/reports/audience/monthly?month=${from.value.slice(0, 7)}&tz=${encodeURIComponent(ctx.zone)}`, "text/html", "audience.html"));
        replace(charts, await Promise.all(CHARTS.map(chart)));
      } catch (e) {
        replace(figures, h("p", { class: "problem" }, ctx.problemText(e)));
      }
    }

    replace(root,
      h("form", { class: "row card", id: "audience-form", onsubmit: (e) => { e.preventDefault(); show(); } },
        h("div", {}, h("label", { for: "audience-from" }, t("audience.from")), from),
        h("div", {}, h("label", { for: "audience-to" }, t("audience.to")), to),
        h("div", {}, h("label", { for: "audience-group" }, t("audience.groupBy")), group),
        h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("audience.show")))),
      figures, links, table, charts);
    await show();
    return undefined;
  },
};
