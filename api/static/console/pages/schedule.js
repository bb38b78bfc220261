// The schedule page: a week of one channel in the channel's zone (a day on a phone), with
// what airs (the public guide), what aired (the as-run log, over the past), the frozen past
// greyed out, and the entries as buttons that open their form, or move and resize by
// dragging. Every change is checked by the API's dry run before it is written (where the
// API has it; otherwise the real write's 409 is shown and nothing is written).

import * as cal from "../calendar.js";
import { choose, etagOf as tagOf, field, listAll, openDialog, problemText, statusLine,
  textsFields, titleIn, useStylesheet } from "./editing.js";

const KEPT_CHANNEL = "diaspor.console.channel";
const NARROW = "(max-width: 700px)";
const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
let dryRunKnown = null;

/** Whether the API has the entries' dry run: it says so in its OpenAPI document. Without
 * it, `?dry_run=true` would be ignored and the write made, so it is never sent blindly. */
async function hasDryRun() {
  if (dryRunKnown === null) {
    dryRunKnown = fetch("/openapi.json").then((r) => r.json()).then((doc) => {
      const op = ((doc.paths || {})["/api/v1/manage/entries"] || {}).post || {};
      return (op.parameters || []).some((p) => p.name === "dry_run");
    }).catch(() => false);
  }
  return dryRunKnown;
}

const etagOf = (entry) => tagOf("entries", entry);

export default {
  async render(root, ctx) {
    useStylesheet();
    const { api, t, h, lang } = ctx;
    const editorZone = ctx.zone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const narrow = window.matchMedia(NARROW);
    const state = {
      channels: [], channel: null, entries: [], guide: [], asrun: [], asrunMissing: false,
      targets: { programme: [], playlist: [], clock: [], media: [] }, first: null,
    };
    const status = statusLine(h);
    const calRoot = h("div", { class: "cal" });
    const rangeLabel = h("h2", { class: "sched-range", "aria-live": "polite" });
    const zoneNote = h("p", { class: "sched-zone" });
    const channelSelect = h("select", {
      id: "sched-channel",
      onchange: () => {
        state.channel = state.channels.find((c) => String(c.id) === channelSelect.value);
        localStorage.setItem(KEPT_CHANNEL, state.channel.slug);
        state.first = null;
        load();
      },
    });
    const step = (n) => () => {
      state.first += n * (narrow.matches ? cal.DAY : 7 * cal.DAY);
      load();
    };
    const rulesList = h("ul", { class: "sched-rules" });
    root.replaceChildren(h("div", { class: "sched" },
      h("div", { class: "sched-toolbar" },
        field(h, t("schedule.channel"), channelSelect),
        h("div", { class: "sched-nav", role: "group", "aria-label": t("schedule.navigate") },
          h("button", { type: "button", id: "sched-prev", onclick: step(-1) }, t("schedule.previous")),
          h("button", { type: "button", id: "sched-today", onclick: () => { state.first = null; load(); } },
            t("schedule.today")),
          h("button", { type: "button", id: "sched-next", onclick: step(1) }, t("schedule.next"))),
        h("button", { type: "button", class: "primary", id: "sched-new",
          onclick: () => openForm(null, null) }, t("schedule.new_entry"))),
      rangeLabel, zoneNote,
      h("ul", { class: "sched-legend", "aria-label": t("schedule.legend") },
        h("li", { class: "sched-legend-aired" }, t("schedule.legend_aired")),
        h("li", { class: "sched-legend-asrun" }, t("schedule.legend_asrun")),
        h("li", { class: "sched-legend-frozen" }, t("schedule.legend_frozen"))),
      status, calRoot,
      h("h2", {}, t("schedule.rules")), rulesList));

    const nowWall = () => cal.wallOf(state.channel.timezone, Date.now());
    // Weekday names from the catalogue: a browser's Intl may not know Azerbaijani.
    const SHORT_DAYS = { MO: t("schedule.mo"), TU: t("schedule.tu"), WE: t("schedule.we"),
      TH: t("schedule.th"), FR: t("schedule.fr"), SA: t("schedule.sa"), SU: t("schedule.su") };
    const LONG_DAYS = { MO: t("schedule.monday"), TU: t("schedule.tuesday"),
      WE: t("schedule.wednesday"), TH: t("schedule.thursday"), FR: t("schedule.friday"),
      SA: t("schedule.saturday"), SU: t("schedule.sunday") };
    const ddmm = (wall) => cal.dateOf(wall).slice(5).split("-").reverse().join(".");
    const dayFmt = { format: (d) => `${SHORT_DAYS[cal.weekdayOf(+d)]} ${ddmm(+d)}` };
    const longDayFmt = { format: (d) => `${LONG_DAYS[cal.weekdayOf(+d)]}, ` +
      `${ddmm(+d)}.${cal.dateOf(+d).slice(0, 4)}` };
    const hourLabel = (ms, zone) => zone
      ? new Intl.DateTimeFormat(lang, { timeZone: zone, hour: "2-digit", minute: "2-digit",
        hourCycle: "h23" }).format(new Date(ms))
      : cal.timeOf(ms);

    function targetName(type, id) {
      const x = state.targets[type].find((r) => r.id === id);
      if (!x) return t("schedule.unknown_target", { type: KINDS[type], id });
      return type === "programme" ? titleIn(x.titles, lang)
        : type === "media" ? (titleIn(x.titles, lang) || x.title || x.original_name) : x.name;
    }
    const entryTitle = (e) => titleIn(e.titles, lang) || targetName(e.target_type, e.target_id);
    const KINDS = { programme: t("schedule.kind_programme"), playlist: t("schedule.kind_playlist"),
      clock: t("schedule.kind_clock"), media: t("schedule.kind_media") };

    function ruleText(e) {
      if (!e.rrule) return t("schedule.once");
      const r = cal.parseRule(e.rrule);
      if (r.FREQ === "WEEKLY" && r.BYDAY) {
        return t("schedule.weekly_on", { days: r.BYDAY.split(",").map(dayName).join(", ") });
      }
      if (r.FREQ === "DAILY" && !r.BYDAY) return t("schedule.daily");
      return e.rrule;
    }
    const dayName = (code) => SHORT_DAYS[code.slice(-2)] || code;

    // --- loading ----------------------------------------------------------------------

    async function start() {
      status.textContent = t("schedule.loading");
      hasDryRun(); // asked now, so a save does not wait for the answer
      try {
        const [channels, programme, playlist, clock, media] = await Promise.all([
          listAll(api, "/api/v1/manage/channels"),
          listAll(api, "/api/v1/manage/programmes"),
          listAll(api, "/api/v1/manage/playlists"),
          listAll(api, "/api/v1/manage/clocks"),
          listAll(api, "/api/v1/media?status=ready", 400),
        ]);
        Object.assign(state.targets, { programme, playlist, clock, media });
        state.channels = channels;
      } catch (err) {
        status.textContent = t("schedule.load_failed", { reason: problemText(err) });
        return;
      }
      if (!state.channels.length) {
        status.textContent = t("schedule.no_channels");
        return;
      }
      const kept = localStorage.getItem(KEPT_CHANNEL);
      state.channel = state.channels.find((c) => c.slug === kept) || state.channels[0];
      channelSelect.replaceChildren(...state.channels.map((c) => h("option",
        { value: String(c.id), selected: c.id === state.channel.id },
        `${titleIn(c.names, lang) || c.slug} (${c.timezone})`)));
      await load();
    }

    let loading = 0;
    async function load() {
      const ch = state.channel;
      if (state.first === null) {
        state.first = narrow.matches ? cal.midnight(nowWall()) : cal.weekStart(nowWall());
      }
      const days = narrow.matches ? [state.first]
        : [0, 1, 2, 3, 4, 5, 6].map((i) => state.first + i * cal.DAY);
      const from = days[0];
      const to = days[days.length - 1] + cal.DAY;
      const mine = ++loading;
      status.textContent = t("schedule.loading");
      calRoot.setAttribute("aria-busy", "true"); // until the guide is drawn too
      // The entries first (quick), then the guide, which the server resolves from every
      // rule of the week (seconds on a busy channel the first time it is asked).
      const guide = api.get(`/api/v1/channels/${encodeURIComponent(ch.slug)}/schedule?lang=${lang}` +
        `&from=${cal.wallIso(from)}&to=${cal.wallIso(to)}`);
      guide.catch(() => null);
      try {
        const [entries, asrun] = await Promise.all([
          listAll(api, `/api/v1/manage/entries?channel_id=${ch.id}`), loadAsRun(ch, from, to)]);
        if (mine !== loading) return;
        Object.assign(state, { entries, guide: [], asrun, days, from, to });
        draw();
        status.textContent = t("schedule.loading_guide");
        const blocks = (await guide).blocks;
        if (mine !== loading) return;
        state.guide = blocks;
      } catch (err) {
        if (mine === loading) {
          status.textContent = t("schedule.load_failed", { reason: problemText(err) });
          calRoot.removeAttribute("aria-busy");
        }
        return;
      }
      status.textContent = "";
      draw();
      calRoot.removeAttribute("aria-busy");
    }

    /** What aired over the shown past; a console on an API without the as-run route
     * (404) or without the right (403) shows the plan alone, saying so. */
    async function loadAsRun(ch, from, to) {
      const zone = ch.timezone;
      const end = Math.min(to, nowWall());
      if (end <= from) return [];
      const q = `channel=${encodeURIComponent(ch.slug)}` +
        `&from=${encodeURIComponent(new Date(cal.instantOf(zone, from)).toISOString())}` +
        `&to=${encodeURIComponent(new Date(cal.instantOf(zone, end)).toISOString())}`;
      try {
        const rows = await listAll(api, `/api/v1/manage/asrun?${q}`, 3000);
        state.asrunMissing = false;
        return rows;
      } catch (err) {
        if (err.status === 404 || err.status === 403) {
          state.asrunMissing = true;
          return [];
        }
        throw err;
      }
    }

    // --- drawing ----------------------------------------------------------------------

    function occurrenceBlocks() {
      const zone = state.channel.timezone;
      const frozenUntil = cal.wallOf(zone, Date.now() + state.channel.freeze_horizon_s * 1000);
      const guideEnds = new Map(state.guide.map((b) => [Date.parse(b.start), Date.parse(b.end)]));
      const out = [];
      for (const e of state.entries) {
        const starts = cal.occurrences(e, zone, state.from, state.to);
        if (!starts) continue;
        for (const start of starts) {
          const at = cal.instantOf(zone, start);
          let end;
          if (e.duration_ms) end = start + e.duration_ms;
          else if (guideEnds.has(at)) end = start + (guideEnds.get(at) - at);
          else end = start + contentLength(e);
          const title = entryTitle(e);
          out.push({
            key: `${e.id}@${start}`, entry: e, start, end, title, kind: e.target_type,
            recurring: Boolean(e.rrule), frozen: start < frozenUntil,
            details: entryDetails(e, { kind: KINDS[e.target_type],
              day: longDayFmt.format(new Date(start)) }),
          });
        }
      }
      return { out, frozenUntil };
    }

    // What a screen reader hears after an entry's time and title.
    const entryDetails = (e, vars) => (e.rrule
      ? t("schedule.entry_details_recurring", vars) : t("schedule.entry_details", vars));

    function contentLength(e) {
      if (e.target_type === "media") {
        const m = state.targets.media.find((x) => x.id === e.target_id);
        if (m && m.duration_ms) return m.duration_ms;
      }
      return cal.HOUR;
    }

    /** Back-to-back guide blocks of one title made one: a channel that airs short
     * episodes of one programme all day draws a few boxes, not thousands. */
    function joined(blocks) {
      const out = [];
      for (const b of blocks) {
        const last = out[out.length - 1];
        if (last && last.end === b.start && last.title === b.title && last.kind === b.kind) {
          last.end = b.end;
        } else {
          out.push({ start: b.start, end: b.end, title: b.title, kind: b.kind });
        }
      }
      return out;
    }

    function draw() {
      const zone = state.channel.timezone;
      const { out, frozenUntil } = occurrenceBlocks();
      const wall = (iso) => cal.wallOf(zone, Date.parse(iso));
      const aired = joined(state.guide).map((b) => ({
        start: wall(b.start), end: wall(b.end), title: b.title, kind: b.kind,
        label: `${b.title} ${hourLabel(wall(b.start))}–${hourLabel(wall(b.end))}`,
      }));
      const asrun = state.asrun.map((r) => {
        const startIso = r.actual_start || r.start || r.planned_start;
        const start = wall(startIso);
        const end = r.end ? wall(r.end) : start + (r.actual_ms || r.planned_ms || r.duration_ms || 0);
        return { start, end, outcome: r.outcome, title: r.title,
          label: `${r.title || ""} ${r.outcome || ""}`.trim() };
      });
      const last = state.days[state.days.length - 1];
      rangeLabel.textContent = state.days.length === 1
        ? longDayFmt.format(new Date(state.first))
        : t("schedule.week_of", { from: longDayFmt.format(new Date(state.first)),
          to: longDayFmt.format(new Date(last)) });
      zoneNote.textContent = t("schedule.zones", { channel: zone, editor: editorZone }) +
        (state.asrunMissing ? ` ${t("schedule.asrun_missing")}` : "");
      cal.drawCalendar(calRoot, {
        h, days: state.days, zone, editorZone, now: nowWall(), frozenUntil,
        dayLabel: (d) => dayFmt.format(new Date(d)), hourLabel,
        entries: out, aired, asrun, labels: { frozen: t("schedule.legend_frozen") },
        onOpen: (b) => openForm(b.entry, b),
        onMove: (b, s, e) => moved(b, s, e),
        onCreate: (s, e) => openForm(null, null, { start: s, end: e }),
      });
      rulesList.replaceChildren(...state.entries.map((e) => h("li", {},
        h("button", { type: "button", class: "link", onclick: () => openForm(e, null) },
          t("schedule.rule_line", { title: entryTitle(e), kind: KINDS[e.target_type],
            start: e.start_local.slice(0, 16).replace("T", " "), rule: ruleText(e) })))));
      if (!state.entries.length) rulesList.append(h("li", {}, t("schedule.no_entries")));
    }

    // --- writing ----------------------------------------------------------------------

    /** The conflict in words: the API's detail, and the titles of the entries it names. */
    function conflictText(err) {
      const named = ((err.problem && err.problem.conflicting) || [])
        .map((c) => state.entries.find((e) => e.id === c.id)).filter(Boolean)
        .map((e) => `${entryTitle(e)} (${e.start_local.slice(0, 16).replace("T", " ")}, ${ruleText(e)})`);
      const head = err.status === 409 && err.reason === "schedule-conflict"
        ? t("schedule.conflict") : t("schedule.refused");
      return [head, named.length ? t("schedule.conflicts_with", { what: named.join("; ") }) : "",
        problemText(err)].filter(Boolean).join(" ");
    }

    /** Dry run of a write, where the API has it: null when fine, else the error. */
    async function dryRun(method, path, body, etag) {
      if (!(await hasDryRun())) return null;
      const sep = path.includes("?") ? "&" : "?";
      try {
        await api.call(method, `${path}${sep}dry_run=true`, { json: body, ifMatch: etag });
        return null;
      } catch (err) {
        if ([409, 412, 422].includes(err.status)) return err;
        throw err;
      }
    }

    /** A checked write: the dry run first, then the write; either one's refusal is thrown. */
    async function write(method, path, body, etag) {
      const refused = await dryRun(method, path, body, etag);
      if (refused) throw refused;
      return api.call(method, path, { json: body, ifMatch: etag });
    }

    /** One occurrence of a series made a one-off elsewhere: the series skips it, a copy
     * airs at the new time; if the copy is refused, the series gets the occurrence back. */
    async function moveOccurrence(e, oldStart, copy) {
      const path = `/api/v1/manage/entries/${e.id}`;
      const probe = await dryRun("POST", "/api/v1/manage/entries", copy);
      if (probe && !onlyWith(probe, e)) throw probe;
      const skipped = await write("PATCH", path,
        { exdates: [...(e.exdates || []), cal.wallIso(oldStart)] }, etagOf(e));
      try {
        await write("POST", "/api/v1/manage/entries", copy);
      } catch (err) {
        await api.call("PATCH", path, { json: { exdates: e.exdates || [] },
          ifMatch: etagOf(skipped) }).catch(() => null);
        throw err;
      }
    }

    /** A conflict only with the series the occurrence leaves (it will skip it). */
    function onlyWith(err, e) {
      const ids = ((err.problem && err.problem.conflicting) || []).map((c) => c.id)
        .filter((id) => id !== null && id !== undefined);
      return err.reason === "schedule-conflict" && ids.length > 0 && ids.every((id) => id === e.id);
    }

    const copyOf = (e, start, durationMs) => ({
      channel_id: e.channel_id, target_type: e.target_type, target_id: e.target_id,
      episode_id: e.episode_id, titles: e.titles || {}, start_local: cal.wallIso(start),
      rrule: null, exdates: [], duration_ms: durationMs, hard: e.hard,
    });

    async function moved(b, start, end) {
      const e = b.entry;
      const resized = end - start !== b.to - b.from;
      const duration = resized || e.duration_ms ? end - start : null;
      let scope = "series";
      if (e.rrule) {
        scope = await choose(h, t("schedule.move_title"), t("schedule.move_which", {
          title: b.title, start: `${cal.dateOf(start)} ${cal.timeOf(start)}` }), [
          ["one", t("schedule.this_occurrence")], ["series", t("schedule.whole_series")],
          [null, t("schedule.cancel")]]);
        if (!scope) { draw(); return; }
      }
      status.textContent = t("schedule.saving");
      try {
        if (scope === "one") {
          await moveOccurrence(e, b.from, copyOf(e, start, duration));
        } else {
          const delta = start - b.from;
          const dayTurn = Math.round((cal.midnight(start) - cal.midnight(b.from)) / cal.DAY);
          const changes = { start_local: cal.wallIso(cal.parseWall(e.start_local) + delta) };
          if (resized) changes.duration_ms = duration;
          if (e.rrule && dayTurn) changes.rrule = cal.shiftRule(e.rrule, dayTurn);
          if (e.rrule && delta) {
            changes.exdates = (e.exdates || []).map((x) => cal.wallIso(cal.parseWall(x) + delta));
          }
          await write("PATCH", `/api/v1/manage/entries/${e.id}`, changes, etagOf(e));
        }
        ctx.toast(t("schedule.moved", { title: b.title, start: cal.timeOf(start) }), "ok");
      } catch (err) {
        ctx.toast(conflictText(err), "error");
      }
      await load();
    }

    // --- the entry form ----------------------------------------------------------------

    function openForm(entry, occurrence, fresh) {
      const zone = state.channel.timezone;
      const dur = entry ? entry.duration_ms
        : fresh ? fresh.end - fresh.start : null;
      const startWall = occurrence ? occurrence.from
        : entry ? cal.parseWall(entry.start_local)
          : fresh ? fresh.start : cal.midnight(nowWall()) + cal.DAY + 20 * cal.HOUR;
      const rule = entry && entry.rrule ? cal.parseRule(entry.rrule) : {};
      const kind = h("select", { name: "target_type" }, ...Object.entries(KINDS).map(([k, label]) =>
        h("option", { value: k, selected: (entry ? entry.target_type : "programme") === k }, label)));
      const target = h("select", { name: "target_id", required: true });
      const episode = h("select", { name: "episode_id" });
      const episodeField = field(h, t("schedule.episode"), episode, t("schedule.episode_hint"));
      const date = h("input", { type: "date", name: "date", required: true,
        value: cal.dateOf(startWall) });
      const time = h("input", { type: "time", name: "time", step: "60", required: true,
        value: cal.timeOf(startWall) });
      const minutes = h("input", { type: "number", name: "minutes", min: "1", step: "1",
        value: dur ? String(Math.round(dur / cal.MINUTE)) : "" });
      const hard = h("input", { type: "checkbox", name: "hard",
        checked: entry ? entry.hard : true });
      const repeat = h("select", { name: "repeat" },
        h("option", { value: "none", selected: !entry || !entry.rrule }, t("schedule.once")),
        h("option", { value: "weekly", selected: rule.FREQ === "WEEKLY" }, t("schedule.weekly")),
        h("option", { value: "daily", selected: rule.FREQ === "DAILY" }, t("schedule.daily")),
        entry && entry.rrule && !["WEEKLY", "DAILY"].includes(rule.FREQ)
          ? h("option", { value: "keep", selected: true }, entry.rrule) : null);
      const byday = new Set(rule.BYDAY ? rule.BYDAY.split(",") : [cal.weekdayOf(startWall)]);
      const dayBoxes = WEEKDAYS.map((d) => h("input", { type: "checkbox", name: `day-${d}`,
        value: d, checked: byday.has(d) }));
      const daysField = h("fieldset", { class: "sched-days" },
        h("legend", {}, t("schedule.on_days")),
        ...dayBoxes.map((box, i) => h("label", {}, box, dayName(WEEKDAYS[i]))));
      let exdates = [...((entry && entry.exdates) || [])];
      const exList = h("ul", { class: "sched-exdates" });
      const showExdates = () => {
        exList.replaceChildren(...exdates.map((x) => h("li", {}, x.slice(0, 16).replace("T", " "),
          " ", h("button", { type: "button", class: "link",
            "aria-label": t("schedule.restore_occurrence", { when: x.slice(0, 16).replace("T", " ") }),
            onclick: () => { exdates = exdates.filter((y) => y !== x); showExdates(); changed(); },
          }, t("schedule.restore")))));
        if (!exdates.length) exList.append(h("li", {}, t("schedule.no_exceptions")));
      };
      showExdates();
      const titles = textsFields(h, t("schedule.titles"), entry && entry.titles, { name: "titles" });
      const scopeOne = h("input", { type: "radio", name: "scope", value: "one" });
      const scopeAll = h("input", { type: "radio", name: "scope", value: "series", checked: true });
      const scope = occurrence && entry.rrule ? h("fieldset", { class: "sched-scope" },
        h("legend", {}, t("schedule.apply_to", { when: `${cal.dateOf(occurrence.from)} ${cal.timeOf(occurrence.from)}` })),
        h("label", {}, scopeOne, t("schedule.this_occurrence")),
        h("label", {}, scopeAll, t("schedule.whole_series"))) : null;
      const alert = h("div", { class: "sched-alert", role: "alert" });
      const checkNote = h("p", { class: "sched-check", "aria-live": "polite" });

      function fillTargets() {
        const type = kind.value;
        const chosen = entry && entry.target_type === type ? entry.target_id : null;
        target.replaceChildren(...state.targets[type].map((x) => h("option",
          { value: String(x.id), selected: x.id === chosen }, targetName(type, x.id))));
        episodeField.hidden = type !== "programme";
        fillEpisodes();
      }
      async function fillEpisodes() {
        episode.replaceChildren(h("option", { value: "" }, t("schedule.episode_any")));
        if (kind.value !== "programme" || !target.value) return;
        try {
          const eps = await listAll(api, `/api/v1/manage/episodes?programme_id=${target.value}`);
          episode.append(...eps.map((ep) => h("option", {
            value: String(ep.id), selected: entry && entry.episode_id === ep.id },
          [ep.season ? `S${ep.season}` : "", ep.number ? `E${ep.number}` : "",
            " ", titleIn(ep.titles, lang)].join("").trim() || `#${ep.id}`)));
        } catch (err) {
          checkNote.textContent = problemText(err);
        }
      }
      kind.addEventListener("change", fillTargets);
      target.addEventListener("change", fillEpisodes);
      // Until the editor picks days, a weekly entry repeats on its own date's weekday.
      let daysPicked = Boolean(rule.BYDAY);
      daysField.addEventListener("change", () => { daysPicked = true; });
      date.addEventListener("change", () => {
        const day = cal.parseWall(date.value);
        if (daysPicked || Number.isNaN(day)) return;
        for (const box of dayBoxes) box.checked = box.value === cal.weekdayOf(day);
      });
      const showDays = () => { daysField.hidden = repeat.value !== "weekly"; };
      repeat.addEventListener("change", showDays);
      fillTargets();
      showDays();

      /** The form as an entry body, or null (with the reason shown). */
      function body() {
        const start = cal.parseWall(`${date.value}T${time.value}`);
        if (Number.isNaN(start) || !target.value) {
          alert.textContent = t("schedule.fill_in");
          return null;
        }
        const oneOff = scopeOne.checked && scope;
        let rrule = null;
        if (!oneOff && repeat.value === "weekly") {
          const days = dayBoxes.filter((b) => b.checked).map((b) => b.value);
          if (!days.length) { alert.textContent = t("schedule.pick_days"); return null; }
          rrule = cal.formatRule({ ...rule, FREQ: "WEEKLY", BYDAY: days.join(","), INTERVAL: rule.INTERVAL });
        } else if (!oneOff && repeat.value === "daily") {
          rrule = cal.formatRule({ FREQ: "DAILY", UNTIL: rule.UNTIL, COUNT: rule.COUNT });
        } else if (!oneOff && repeat.value === "keep") {
          rrule = entry.rrule;
        }
        const mins = minutes.value ? Math.round(+minutes.value) : null;
        return {
          channel_id: state.channel.id, target_type: kind.value, target_id: +target.value,
          episode_id: kind.value === "programme" && episode.value ? +episode.value : null,
          titles: titles.read(),
          start_local: cal.wallIso(start), rrule, exdates: rrule ? exdates : [],
          duration_ms: mins ? mins * cal.MINUTE : null, hard: hard.checked,
        };
      }
      /** Series start moved with the occurrence edited: the form shows the occurrence's
       * time, so the series keeps its first date and takes the new time of day. */
      function seriesBody(b) {
        if (!entry || !occurrence || !entry.rrule || !b.rrule) return b;
        const moved = cal.parseWall(b.start_local) - occurrence.from;
        return { ...b, start_local: cal.wallIso(cal.parseWall(entry.start_local) + moved) };
      }
      const oneOffWanted = () => Boolean(scope && scopeOne.checked);

      async function check() {
        alert.textContent = "";
        const b = body();
        if (!b) return false;
        if (!(await hasDryRun())) { checkNote.textContent = ""; return true; }
        const refused = oneOffWanted() ? await dryRun("POST", "/api/v1/manage/entries", b)
          : entry ? await dryRun("PATCH", `/api/v1/manage/entries/${entry.id}`, seriesBody(b), etagOf(entry))
            : await dryRun("POST", "/api/v1/manage/entries", b);
        if (refused && !(oneOffWanted() && onlyWith(refused, entry))) {
          alert.textContent = conflictText(refused);
          checkNote.textContent = "";
          return false;
        }
        checkNote.textContent = t("schedule.check_ok");
        return true;
      }
      let timer = null;
      function changed() {
        clearTimeout(timer);
        timer = setTimeout(() => { check().catch(() => null); }, 500);
      }

      async function save(ev) {
        ev.preventDefault();
        alert.textContent = "";
        const b = body();
        if (!b) return;
        saveButton.disabled = true;
        try {
          if (oneOffWanted()) {
            await moveOccurrence(entry, occurrence.from, { ...b, rrule: null, exdates: [] });
          } else if (entry) {
            await write("PATCH", `/api/v1/manage/entries/${entry.id}`, seriesBody(b), etagOf(entry));
          } else {
            await write("POST", "/api/v1/manage/entries", b);
          }
        } catch (err) {
          alert.textContent = conflictText(err);
          saveButton.disabled = false;
          return;
        }
        box.close();
        ctx.toast(t("schedule.saved"), "ok");
        await load();
      }

      async function remove() {
        try {
          if (oneOffWanted()) {
            const when = cal.wallIso(occurrence.from);
            await write("PATCH", `/api/v1/manage/entries/${entry.id}`,
              { exdates: [...(entry.exdates || []), when] }, etagOf(entry));
            ctx.toast(t("schedule.occurrence_removed", { when: when.slice(0, 16).replace("T", " ") }), "ok");
          } else {
            const vars = { title: entryTitle(entry) };
            const ok = await ctx.confirm(entry.rrule ? t("schedule.confirm_delete_series", vars)
              : t("schedule.confirm_delete", vars));
            if (!ok) return;
            await api.del(`/api/v1/manage/entries/${entry.id}`, { ifMatch: etagOf(entry) });
            ctx.toast(t("schedule.deleted"), "ok");
          }
        } catch (err) {
          alert.textContent = conflictText(err);
          return;
        }
        box.close();
        await load();
      }

      const saveButton = h("button", { type: "submit", class: "primary" }, t("schedule.save"));
      const form = h("form", { class: "sched-form", onsubmit: save, oninput: changed, onchange: changed },
        scope,
        h("div", { class: "sched-row" }, field(h, t("schedule.target_type"), kind),
          field(h, t("schedule.target"), target)),
        episodeField,
        h("div", { class: "sched-row" },
          field(h, t("schedule.date"), date, t("schedule.in_zone", { zone })),
          field(h, t("schedule.time"), time),
          field(h, t("schedule.minutes"), minutes, t("schedule.minutes_hint"))),
        h("label", { class: "sched-check-label" }, hard, t("schedule.hard")),
        h("div", { class: "sched-row" }, field(h, t("schedule.repeat"), repeat)),
        daysField,
        entry && entry.rrule ? h("div", {}, h("h3", {}, t("schedule.exceptions")), exList) : null,
        h("details", {}, h("summary", {}, t("schedule.titles")), titles.node),
        alert, checkNote,
        h("div", { class: "sched-actions" },
          saveButton,
          h("button", { type: "button", onclick: () => { check().catch((err) => { alert.textContent = problemText(err); }); } },
            t("schedule.check")),
          entry ? h("button", { type: "button", class: "danger", onclick: remove },
            oneOffWanted() ? t("schedule.remove_occurrence") : t("schedule.delete")) : null,
          h("button", { type: "button", class: "secondary", onclick: () => box.close() },
            t("schedule.cancel"))));
      if (scope) {
        // The delete button says what it will remove.
        const del = form.querySelector(".danger");
        const relabel = () => {
          del.textContent = scopeOne.checked ? t("schedule.remove_occurrence") : t("schedule.delete");
        };
        scopeOne.addEventListener("change", relabel);
        scopeAll.addEventListener("change", relabel);
      }
      const box = openDialog(h, entry ? t("schedule.edit_entry", { title: entryTitle(entry) })
        : t("schedule.new_entry"), form, () => clearTimeout(timer));
      openForms.add(box);
    }

    const openForms = new Set();
    const onNarrow = () => { state.first = null; if (state.channel) load(); };
    narrow.addEventListener("change", onNarrow);
    await start();
    return () => {
      narrow.removeEventListener("change", onNarrow);
      for (const box of openForms) box.close();
      loading += 1;
    };
  },
};
