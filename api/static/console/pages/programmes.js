// The programmes page: programmes with their titles and descriptions in az/en/ru,
// presenters and categories; their seasons and episodes, each with its media and the
// window in which it is on demand (times in the editor's own zone, sent with the offset).

import { formatTime } from "../lib.js";
import { attempt, destroy, destroyAfterAsking, field, listAll, openDialog, problemText, statusLine, store,
  textsFields, titleIn, useStylesheet } from "./editing.js";

const words = (text) => text.split(",").map((w) => w.trim()).filter(Boolean);
const pad = (n) => String(n).padStart(2, "0");

/** An instant as a datetime-local value in the browser's (the editor's) zone. */
function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export default {
  async render(root, ctx) {
    const { api, t, h, lang } = ctx;
    useStylesheet();
    const status = statusLine(h);
    const list = h("ul", { class: "pl-list" });
    const editor = h("div", { class: "pl-editor" });
    let programmes = [];
    const media = new Map();
    const mediaTitle = (id) => {
      const m = media.get(id);
      return m ? (titleIn(m.titles, lang) || m.title || m.original_name) : `#${id}`;
    };

    root.replaceChildren(h("div", {}, status,
      h("div", { class: "pl-layout" },
        h("div", {}, h("button", { type: "button", class: "primary", id: "prog-new",
          onclick: () => edit(null) }, t("programmes.new")), list),
        editor)));

    async function load(selected) {
      status.textContent = t("programmes.loading");
      try {
        const [progs, items] = await Promise.all([listAll(api, "/api/v1/manage/programmes"),
          listAll(api, "/api/v1/media?status=ready", 400)]);
        programmes = progs;
        for (const m of items) media.set(m.id, m);
      } catch (err) {
        status.textContent = t("programmes.load_failed", { reason: problemText(err) });
        return;
      }
      status.textContent = "";
      list.replaceChildren(...programmes.map((p) => h("li", {}, h("button", {
        type: "button", class: "link", "data-id": String(p.id), "aria-current": p.id === selected ? "true" : null,
        onclick: () => edit(p) }, titleIn(p.titles, lang) || p.slug))));
      if (!programmes.length) list.append(h("li", {}, t("programmes.none")));
    }

    function mediaSelect(name, chosen, label) {
      return h("select", { name, "aria-label": label },
        h("option", { value: "" }, t("programmes.no_media")),
        ...[...media.values()].map((m) => h("option", { value: String(m.id), selected: m.id === chosen },
          `${mediaTitle(m.id)} (${m.kind})`)));
    }

    // --- a programme -------------------------------------------------------------------

    function edit(p, focus = true) {
      for (const b of list.querySelectorAll("button[data-id]")) {
        if (p && b.dataset.id === String(p.id)) b.setAttribute("aria-current", "true");
        else b.removeAttribute("aria-current");
      }
      const slug = h("input", { name: "slug", required: true, pattern: "[a-z0-9][a-z0-9-]{0,62}",
        value: p ? p.slug : "" });
      const titles = textsFields(h, t("programmes.titles"), p && p.titles, { name: "titles", required: true });
      const descriptions = textsFields(h, t("programmes.descriptions"), p && p.descriptions,
        { name: "descriptions", multiline: true });
      const presenters = h("input", { name: "presenters", value: p ? p.presenters.join(", ") : "" });
      const categories = h("input", { name: "categories", value: p ? p.categories.join(", ") : "" });
      const artwork = mediaSelect("artwork", p && p.artwork_media_id, t("programmes.artwork"));
      const alert = h("div", { class: "sched-alert", role: "alert" });
      const episodes = h("div", {});

      async function save(ev) {
        ev.preventDefault();
        const body = { slug: slug.value.trim(), titles: titles.read(), descriptions: descriptions.read(),
          presenters: words(presenters.value), categories: words(categories.value),
          artwork_media_id: artwork.value ? +artwork.value : null };
        await attempt(alert, async () => {
          const saved = await store(api, "programmes", p, body);
          ctx.toast(t("programmes.saved", { title: titleIn(saved.titles, lang) }), "ok");
          await load(saved.id);
          edit(saved);
        });
      }
      const remove = () => destroyAfterAsking(ctx, alert, "programmes", p,
        t("programmes.confirm_delete", { title: titleIn(p.titles, lang) }), async () => {
          ctx.toast(t("programmes.deleted"), "ok");
          editor.replaceChildren();
          await load();
        });
      editor.replaceChildren(h("form", { class: "pl-form", id: "prog-form", onsubmit: save,
        "aria-labelledby": "prog-form-title" },
      h("h2", { id: "prog-form-title" }, p ? titleIn(p.titles, lang) : t("programmes.new")),
      field(h, t("programmes.slug"), slug, t("programmes.slug_hint")),
      titles.node, descriptions.node,
      field(h, t("programmes.presenters"), presenters, t("programmes.presenters_hint")),
      field(h, t("programmes.categories"), categories, t("programmes.categories_hint")),
      field(h, t("programmes.artwork"), artwork),
      alert,
      h("div", { class: "sched-actions" },
        h("button", { type: "submit", class: "primary" }, t("programmes.save")),
        p ? h("button", { type: "button", class: "danger", onclick: remove }, t("programmes.delete")) : null)),
      episodes);
      if (p) drawEpisodes(p, episodes);
      if (focus) slug.focus();
    }

    // --- its episodes ------------------------------------------------------------------

    async function drawEpisodes(p, box) {
      let eps;
      try {
        eps = await listAll(api, `/api/v1/manage/episodes?programme_id=${p.id}`);
      } catch (err) {
        box.replaceChildren(h("p", { role: "alert" }, problemText(err)));
        return;
      }
      eps.sort((a, b) => (a.season || 0) - (b.season || 0) || (a.number || 0) - (b.number || 0));
      const when = (iso) => (iso ? formatTime(iso, ctx.zone, lang, { date: true }) : "–");
      const seasons = [...new Set(eps.map((e) => e.season || 0))];
      const row = (e) => h("tr", {},
        h("td", { "data-label": t("programmes.col_number") }, e.number ? String(e.number) : "–"),
        h("td", { "data-label": t("programmes.col_title") }, titleIn(e.titles, lang) || "–"),
        h("td", { "data-label": t("programmes.col_media") }, e.media_id ? mediaTitle(e.media_id) : "–"),
        h("td", { "data-label": t("programmes.col_available") }, t("programmes.window", {
          from: e.available_from ? when(e.available_from) : t("programmes.once_aired"),
          until: e.available_until ? when(e.available_until) : t("programmes.for_good") })),
        h("td", {}, h("button", { type: "button", class: "secondary",
          "aria-label": t("programmes.edit_episode_button", { title: titleIn(e.titles, lang) || `#${e.id}` }),
          onclick: () => editEpisode(p, e, box) }, t("programmes.edit"))));
      const head = h("thead", {}, h("tr", {}, ...[t("programmes.col_number"), t("programmes.col_title"),
        t("programmes.col_media"), t("programmes.col_available"), t("programmes.col_actions")]
        .map((c) => h("th", { scope: "col" }, c))));
      const season = (s) => {
        const name = s ? t("programmes.season_n", { n: s }) : t("programmes.no_season");
        return h("section", { "aria-label": name }, h("h3", {}, name),
          h("div", { class: "table-wrap" }, h("table", { class: "prog-episodes stack" },
            head.cloneNode(true), h("tbody", {}, ...eps.filter((e) => (e.season || 0) === s).map(row)))));
      };
      box.replaceChildren(h("h2", {}, t("programmes.episodes")),
        h("button", { type: "button", id: "ep-new", onclick: () => editEpisode(p, null, box) },
          t("programmes.new_episode")),
        ...seasons.map(season));
      if (!eps.length) box.append(h("p", {}, t("programmes.no_episodes")));
    }

    function editEpisode(p, e, box) {
      const season = h("input", { type: "number", name: "season", min: "1", value: e && e.season ? String(e.season) : "" });
      const number = h("input", { type: "number", name: "number", min: "1", value: e && e.number ? String(e.number) : "" });
      const titles = textsFields(h, t("programmes.titles"), e && e.titles, { name: "titles" });
      const descriptions = textsFields(h, t("programmes.descriptions"), e && e.descriptions,
        { name: "descriptions", multiline: true });
      const mediaSel = mediaSelect("media_id", e && e.media_id, t("programmes.media"));
      const airDate = h("input", { type: "date", name: "air_date", value: (e && e.air_date) || "" });
      const from = h("input", { type: "datetime-local", name: "available_from", value: localInput(e && e.available_from) });
      const until = h("input", { type: "datetime-local", name: "available_until", value: localInput(e && e.available_until) });
      const alert = h("div", { class: "sched-alert", role: "alert" });
      const instant = (v) => (v ? new Date(v).toISOString() : null);

      async function save(ev) {
        ev.preventDefault();
        const body = { programme_id: p.id, season: season.value ? +season.value : null,
          number: number.value ? +number.value : null, titles: titles.read(),
          descriptions: descriptions.read(), media_id: mediaSel.value ? +mediaSel.value : null,
          air_date: airDate.value || null, available_from: instant(from.value),
          available_until: instant(until.value) };
        const done = await attempt(alert, () => store(api, "episodes", e, body));
        if (!done) return;
        dlg.close();
        ctx.toast(t("programmes.episode_saved"), "ok");
        drawEpisodes(p, box);
      }
      async function remove() {
        if (!(await attempt(alert, () => destroy(api, "episodes", e)))) return;
        dlg.close();
        ctx.toast(t("programmes.deleted"), "ok");
        drawEpisodes(p, box);
      }
      const dlg = openDialog(h, e ? t("programmes.edit_episode", { title: titleIn(e.titles, lang) || `#${e.id}` })
        : t("programmes.new_episode"),
      h("form", { class: "pl-form", onsubmit: save },
        h("div", { class: "sched-row" }, field(h, t("programmes.season"), season),
          field(h, t("programmes.number"), number), field(h, t("programmes.air_date"), airDate)),
        titles.node, descriptions.node,
        field(h, t("programmes.media"), mediaSel),
        h("fieldset", {}, h("legend", {}, t("programmes.availability", { zone: ctx.zone })),
          h("div", { class: "sched-row" },
            field(h, t("programmes.available_from"), from, t("programmes.available_from_hint")),
            field(h, t("programmes.available_until"), until, t("programmes.available_until_hint")))),
        alert,
        h("div", { class: "sched-actions" },
          h("button", { type: "submit", class: "primary" }, t("programmes.save")),
          e ? h("button", { type: "button", class: "danger", onclick: remove }, t("programmes.delete")) : null,
          h("button", { type: "button", class: "secondary", onclick: () => dlg.close() }, t("programmes.cancel")))));
    }

    await load();
    if (programmes.length && !editor.firstChild) edit(programmes[0], false); // none opened yet
    return () => {
      for (const d of document.querySelectorAll("dialog.sched-dialog")) d.close();
    };
  },
};
