// The playlists page: playlists (items in order, reordered by dragging or from the keyboard,
// shuffle and separation settings) and hour clocks (slots within the hour, drawn on a bar of
// the hour and dragged along it, or typed as minute:second).

import { formatDuration } from "../lib.js";
import { attempt, destroyAfterAsking, field, listAll, problemText, statusLine, store, titleIn,
  useStylesheet } from "./editing.js";

const HOUR_S = 3600;
const mmss = (s) => `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
const duration = (ms) => (ms ? formatDuration(ms) : "–");

export function parseMmss(text) {
  const m = /^\s*(\d{1,2}):(\d{2})\s*$/.exec(text || "");
  if (!m || +m[2] > 59) return null;
  const s = +m[1] * 60 + +m[2];
  return s < HOUR_S ? s : null;
}

export default {
  async render(root, ctx) {
    useStylesheet();
    const { api, t, h, lang } = ctx;
    const status = statusLine(h);
    const media = new Map();
    let playlists = [];
    let clocks = [];
    const plList = h("ul", { class: "pl-list" });
    const clockList = h("ul", { class: "pl-list" });
    const plEditor = h("div", { class: "pl-editor" });
    const clockEditor = h("div", { class: "pl-editor" });
    const mediaTitle = (id) => {
      const m = media.get(id);
      return m ? (titleIn(m.titles, lang) || m.title || m.original_name) : t("playlists.missing_media", { id });
    };

    root.replaceChildren(h("div", { class: "pl" }, status,
      h("h2", { id: "pl-heading" }, t("playlists.playlists")),
      h("div", { class: "pl-layout" },
        h("div", {}, h("button", { type: "button", class: "primary", id: "pl-new",
          onclick: () => editPlaylist(null) }, t("playlists.new")), plList),
        plEditor),
      h("h2", { id: "clock-heading" }, t("playlists.clocks")),
      h("div", { class: "pl-layout" },
        h("div", {}, h("button", { type: "button", class: "primary", id: "clock-new",
          onclick: () => editClock(null) }, t("playlists.new_clock")), clockList),
        clockEditor)));

    async function load(selectPl, selectClock) {
      status.textContent = t("playlists.loading");
      try {
        const [pls, cls, items] = await Promise.all([
          listAll(api, "/api/v1/manage/playlists"), listAll(api, "/api/v1/manage/clocks"),
          listAll(api, "/api/v1/media?status=ready", 400)]);
        playlists = pls;
        clocks = cls;
        for (const m of items) media.set(m.id, m);
      } catch (err) {
        status.textContent = t("playlists.load_failed", { reason: problemText(err) });
        return;
      }
      status.textContent = "";
      plList.replaceChildren(...playlists.map((p) => h("li", {}, h("button", {
        type: "button", class: "link", "data-id": String(p.id), "aria-current": selectPl === p.id ? "true" : null,
        onclick: () => editPlaylist(p) }, p.name))));
      clockList.replaceChildren(...clocks.map((c) => h("li", {}, h("button", {
        type: "button", class: "link", "data-id": String(c.id), "aria-current": selectClock === c.id ? "true" : null,
        onclick: () => editClock(c) }, c.name))));
      if (!playlists.length) plList.append(h("li", {}, t("playlists.none")));
      if (!clocks.length) clockList.append(h("li", {}, t("playlists.no_clocks")));
    }

    // --- a playlist --------------------------------------------------------------------

    /** The list's button of the one being edited says so (aria-current). */
    function markCurrent(listEl, id) {
      for (const b of listEl.querySelectorAll("button[data-id]")) {
        if (b.dataset.id === String(id)) b.setAttribute("aria-current", "true");
        else b.removeAttribute("aria-current");
      }
    }

    function editPlaylist(pl, focus = true) {
      markCurrent(plList, pl && pl.id);
      let ids = [...((pl && pl.media_ids) || [])];
      const name = h("input", { name: "name", required: true, maxlength: "200", value: pl ? pl.name : "" });
      const shuffle = h("input", { type: "checkbox", name: "shuffle", checked: pl ? pl.shuffle : false });
      const artistSep = h("input", { type: "number", name: "artist_separation", min: "0", max: "1440",
        value: String(Math.round(((pl && pl.artist_separation_s) || 0) / 60)) });
      const trackSep = h("input", { type: "number", name: "track_separation", min: "0", max: "10080",
        value: String(Math.round(((pl && pl.track_separation_s) || 0) / 60)) });
      const items = h("ol", { class: "pl-items", "aria-describedby": "pl-items-help" });
      const moved = h("p", { class: "sched-status", "aria-live": "assertive" });
      const total = h("p", {});
      const alert = h("div", { class: "sched-alert", role: "alert" });
      let dragFrom = null;

      function drawItems(focusAt) {
        items.replaceChildren(...ids.map((id, i) => {
          const title = mediaTitle(id);
          const li = h("li", {
            class: "pl-item", tabindex: "0", draggable: "true", "data-media": String(id),
            "aria-label": t("playlists.item_label", { n: i + 1, count: ids.length, title }),
            onkeydown: (ev) => {
              if (!ev.altKey || (ev.key !== "ArrowUp" && ev.key !== "ArrowDown")) return;
              ev.preventDefault();
              move(i, ev.key === "ArrowUp" ? i - 1 : i + 1);
            },
            ondragstart: (ev) => { dragFrom = i; li.classList.add("pl-dragging");
              ev.dataTransfer.effectAllowed = "move"; ev.dataTransfer.setData("text/plain", String(i)); },
            ondragend: () => { li.classList.remove("pl-dragging"); },
            ondragover: (ev) => { ev.preventDefault(); li.classList.add("pl-over"); },
            ondragleave: () => li.classList.remove("pl-over"),
            ondrop: (ev) => { ev.preventDefault(); li.classList.remove("pl-over");
              if (dragFrom !== null) move(dragFrom, i); dragFrom = null; },
          },
          h("span", { class: "pl-handle", "aria-hidden": "true" }, "⠿"),
          h("span", { class: "pl-title" }, title),
          h("span", { class: "pl-len" }, duration((media.get(id) || {}).duration_ms)),
          h("button", { type: "button", class: "secondary", disabled: i === 0,
            "aria-label": t("playlists.move_up", { title }), onclick: () => move(i, i - 1) }, "↑"),
          h("button", { type: "button", class: "secondary", disabled: i === ids.length - 1,
            "aria-label": t("playlists.move_down", { title }), onclick: () => move(i, i + 1) }, "↓"),
          h("button", { type: "button", class: "danger",
            "aria-label": t("playlists.remove_item", { title }),
            onclick: () => { ids.splice(i, 1); drawItems(Math.min(i, ids.length - 1)); } },
          t("playlists.remove")));
          return li;
        }));
        if (!ids.length) items.append(h("li", { class: "pl-item" }, t("playlists.empty")));
        const ms = ids.reduce((a, id) => a + ((media.get(id) || {}).duration_ms || 0), 0);
        total.textContent = t("playlists.total", { count: ids.length, length: duration(ms) });
        if (focusAt !== undefined && focusAt >= 0 && items.children[focusAt]) items.children[focusAt].focus();
      }
      function move(from, to) {
        if (to < 0 || to >= ids.length || from === to) return;
        const [id] = ids.splice(from, 1);
        ids.splice(to, 0, id);
        drawItems(to);
        moved.textContent = t("playlists.moved", { title: mediaTitle(id), n: to + 1, count: ids.length });
      }

      // Adding from the library: ready items, searched by words.
      const search = h("input", { type: "search", name: "q" });
      const found = h("ul", { class: "pl-list" });
      async function find(ev) {
        if (ev) ev.preventDefault();
        const q = search.value.trim();
        try {
          const page = await api.get(`/api/v1/media?status=ready&limit=20${q ? `&q=${encodeURIComponent(q)}` : ""}`);
          for (const m of page.items) media.set(m.id, m);
          found.replaceChildren(...page.items.map((m) => h("li", {}, h("button", {
            type: "button", class: "secondary", "data-add": String(m.id),
            onclick: () => { ids.push(m.id); drawItems(); moved.textContent = t("playlists.added", { title: mediaTitle(m.id) }); },
          }, `${t("playlists.add_item", { title: mediaTitle(m.id) })} (${duration(m.duration_ms)})`))));
          if (!page.items.length) found.append(h("li", {}, t("playlists.nothing_found")));
        } catch (err) {
          found.replaceChildren(h("li", {}, problemText(err)));
        }
      }

      async function save(ev) {
        ev.preventDefault();
        const body = { name: name.value.trim(), shuffle: shuffle.checked, media_ids: ids,
          artist_separation_s: Math.round(+artistSep.value * 60),
          track_separation_s: Math.round(+trackSep.value * 60) };
        await attempt(alert, async () => {
          const saved = await store(api, "playlists", pl, body);
          ctx.toast(t("playlists.saved", { name: saved.name }), "ok");
          await load(saved.id);
          editPlaylist(saved);
        });
      }
      const remove = () => destroyAfterAsking(ctx, alert, "playlists", pl,
        t("playlists.confirm_delete", { name: pl.name }), async () => {
          ctx.toast(t("playlists.deleted"), "ok");
          plEditor.replaceChildren();
          await load();
        });

      plEditor.replaceChildren(h("form", { class: "pl-form", id: "pl-form", onsubmit: save,
        "aria-labelledby": "pl-form-title" },
      h("h3", { id: "pl-form-title" }, pl ? t("playlists.edit", { name: pl.name }) : t("playlists.new")),
      field(h, t("playlists.name"), name),
      h("label", { class: "inline" }, shuffle, t("playlists.shuffle")),
      h("div", { class: "sched-row" },
        field(h, t("playlists.artist_separation"), artistSep, t("playlists.separation_hint")),
        field(h, t("playlists.track_separation"), trackSep, t("playlists.separation_hint"))),
      h("h4", {}, t("playlists.items")),
      h("p", { id: "pl-items-help", class: "muted" }, t("playlists.reorder_help")),
      items, moved, total,
      h("div", { class: "card" },
        h("h4", {}, t("playlists.add_from_library")),
        h("div", { class: "sched-row" }, field(h, t("playlists.search"), search),
          h("button", { type: "button", onclick: find }, t("playlists.find"))),
        found),
      alert,
      h("div", { class: "sched-actions" },
        h("button", { type: "submit", class: "primary" }, t("playlists.save")),
        pl ? h("button", { type: "button", class: "danger", onclick: remove }, t("playlists.delete")) : null)));
      search.addEventListener("keydown", (ev) => { if (ev.key === "Enter") find(ev); });
      drawItems();
      find();
      if (focus) name.focus();
    }

    // --- an hour clock -----------------------------------------------------------------

    function editClock(clock, focus = true) {
      markCurrent(clockList, clock && clock.id);
      let slots = ((clock && clock.slots) || []).map((s) => ({ ...s }));
      const name = h("input", { name: "clock_name", required: true, maxlength: "200", value: clock ? clock.name : "" });
      const face = h("div", { class: "clock-face", "aria-hidden": "true" });
      const table = h("tbody");
      const alert = h("div", { class: "sched-alert", role: "alert" });
      const sourceName = (s) => (s.source === "media" ? mediaTitle(s.ref_id)
        : ((playlists.find((p) => p.id === s.ref_id) || {}).name || `#${s.ref_id}`));

      function drawFace() {
        const sorted = [...slots].sort((a, b) => a.at_s - b.at_s);
        face.replaceChildren(...[0, 15, 30, 45].map((m) => {
          const tick = h("span", { class: "clock-tick" }, `:${String(m).padStart(2, "0")}`);
          tick.style.left = `${(m / 60) * 100}%`;
          return tick;
        }), ...sorted.map((s, i) => {
          const next = i + 1 < sorted.length ? sorted[i + 1].at_s : HOUR_S;
          const el = h("div", { class: `clock-slot${s.hard ? " clock-hard" : ""}`, title: s.title || sourceName(s) },
            `${mmss(s.at_s)} ${s.title || sourceName(s)}`);
          el.style.left = `${(s.at_s / HOUR_S) * 100}%`;
          el.style.width = `${((next - s.at_s) / HOUR_S) * 100}%`;
          dragSlot(el, s);
          return el;
        }));
      }
      /** A slot dragged along the hour moves by whole quarter-minutes. */
      function dragSlot(el, s) {
        el.addEventListener("pointerdown", (ev) => {
          const width = face.getBoundingClientRect().width;
          const x0 = ev.clientX;
          const at0 = s.at_s;
          el.setPointerCapture(ev.pointerId);
          const move = (e) => {
            const at = at0 + Math.round(((e.clientX - x0) / width) * HOUR_S / 15) * 15;
            s.at_s = Math.min(HOUR_S - 1, Math.max(0, at));
            el.style.left = `${(s.at_s / HOUR_S) * 100}%`;
          };
          const up = () => {
            el.removeEventListener("pointermove", move);
            el.removeEventListener("pointerup", up);
            drawAll();
          };
          el.addEventListener("pointermove", move);
          el.addEventListener("pointerup", up);
        });
      }
      function refOptions(s) {
        const list = s.source === "media"
          ? [...media.values()].map((m) => [m.id, mediaTitle(m.id)])
          : playlists.map((p) => [p.id, p.name]);
        if (s.ref_id && !list.some(([id]) => id === s.ref_id)) list.push([s.ref_id, sourceName(s)]);
        return list.map(([id, label]) => h("option", { value: String(id), selected: id === s.ref_id }, label));
      }
      function drawTable() {
        table.replaceChildren(...slots.map((s, i) => {
          const n = i + 1;
          const at = h("input", { value: mmss(s.at_s), size: "5", pattern: "\\d{1,2}:\\d{2}",
            "aria-label": t("playlists.slot_at", { n }),
            onchange: (ev) => {
              const v = parseMmss(ev.target.value);
              if (v === null) { alert.textContent = t("playlists.bad_time"); return; }
              alert.textContent = "";
              s.at_s = v;
              drawFace();
            } });
          const source = h("select", { "aria-label": t("playlists.slot_source", { n }),
            onchange: (ev) => { s.source = ev.target.value; s.ref_id = null; drawAll(); } },
          h("option", { value: "playlist", selected: s.source === "playlist" }, t("playlists.source_playlist")),
          h("option", { value: "media", selected: s.source === "media" }, t("playlists.source_media")));
          const ref = h("select", { "aria-label": t("playlists.slot_ref", { n }),
            onchange: (ev) => { s.ref_id = +ev.target.value; drawFace(); } }, ...refOptions(s));
          if (!s.ref_id && ref.value) s.ref_id = +ref.value;
          const box = (key, label) => h("input", { type: "checkbox", checked: Boolean(s[key]),
            "aria-label": label, onchange: (ev) => { s[key] = ev.target.checked; drawFace(); } });
          const title = h("input", { value: s.title || "", "aria-label": t("playlists.slot_title", { n }),
            onchange: (ev) => { s.title = ev.target.value; drawFace(); } });
          return h("tr", {}, h("td", {}, at), h("td", {}, source), h("td", {}, ref),
            h("td", {}, box("fill", t("playlists.slot_fill", { n }))),
            h("td", {}, box("hard", t("playlists.slot_hard", { n }))), h("td", {}, title),
            h("td", {}, h("button", { type: "button", class: "danger",
              "aria-label": t("playlists.slot_remove", { n }),
              onclick: () => { slots.splice(i, 1); drawAll(); } }, t("playlists.remove"))));
        }));
      }
      function drawAll() { drawFace(); drawTable(); }
      function addSlot() {
        const last = slots.reduce((a, s) => Math.max(a, s.at_s), -300);
        slots.push({ at_s: Math.min(HOUR_S - 1, last + 300), source: "playlist",
          ref_id: playlists.length ? playlists[0].id : null, fill: true, hard: false, title: "" });
        drawAll();
      }
      async function save(ev) {
        ev.preventDefault();
        alert.textContent = "";
        if (slots.some((s) => !s.ref_id)) { alert.textContent = t("playlists.slot_needs_source"); return; }
        const body = { name: name.value.trim(), slots: [...slots].sort((a, b) => a.at_s - b.at_s)
          .map((s) => ({ at_s: s.at_s, source: s.source, ref_id: s.ref_id, fill: Boolean(s.fill),
            hard: Boolean(s.hard), title: s.title || "" })) };
        await attempt(alert, async () => {
          const saved = await store(api, "clocks", clock, body);
          ctx.toast(t("playlists.clock_saved", { name: saved.name }), "ok");
          await load(undefined, saved.id);
          editClock(saved);
        });
      }
      const remove = () => destroyAfterAsking(ctx, alert, "clocks", clock,
        t("playlists.confirm_delete_clock", { name: clock.name }), async () => {
          ctx.toast(t("playlists.deleted"), "ok");
          clockEditor.replaceChildren();
          await load();
        });
      clockEditor.replaceChildren(h("form", { class: "pl-form", id: "clock-form", onsubmit: save,
        "aria-labelledby": "clock-form-title" },
      h("h3", { id: "clock-form-title" }, clock ? t("playlists.edit_clock", { name: clock.name }) : t("playlists.new_clock")),
      field(h, t("playlists.name"), name),
      h("p", { class: "muted" }, t("playlists.clock_help")),
      face,
      h("div", { class: "table-wrap" }, h("table", { class: "clock-slots" },
        h("thead", {}, h("tr", {}, ...[t("playlists.col_at"), t("playlists.col_source"),
          t("playlists.col_ref"), t("playlists.col_fill"), t("playlists.col_hard"),
          t("playlists.col_title"), t("playlists.col_actions")].map((c) => h("th", { scope: "col" }, c)))),
        table)),
      h("button", { type: "button", onclick: addSlot }, t("playlists.add_slot")),
      alert,
      h("div", { class: "sched-actions" },
        h("button", { type: "submit", class: "primary" }, t("playlists.save")),
        clock ? h("button", { type: "button", class: "danger", onclick: remove }, t("playlists.delete")) : null)));
      if (!slots.length) addSlot();
      drawAll();
      if (focus) name.focus();
    }

    await load();
    // The first of each opens at once, so the page shows what it edits.
    // (unless the editor has opened one meanwhile).
    if (playlists.length && !plEditor.firstChild) editPlaylist(playlists[0], false);
    if (clocks.length && !clockEditor.firstChild) editClock(clocks[0], false);
    return () => {};
  },
};

