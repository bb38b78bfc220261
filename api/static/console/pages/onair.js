// On air: each channel's now and next (its JSON, then its Server-Sent Events), where to
// listen or watch, listeners; the station's health and alarms; the as-run log with a filter
// and a CSV export; and, for editors, skip and play-now, each after a confirmation.

import { formatTime, replace } from "../lib.js";

const HEALTH_POLL_MS = 15000;
const ASRUN_POLL_MS = 5000;

export default {
  async render(root, ctx) {
    const { api, t, h } = ctx;
    const sources = [];
    const timers = [];
    let disposed = false;

    const healthBox = h("div", { class: "card", id: "health", "aria-live": "polite" }, h("p", { class: "loading" }, t("app.loading")));
    const channelsBox = h("div", { class: "grid", id: "channels" }, h("p", { class: "loading" }, t("app.loading")));
    const asrunBox = h("section", { "aria-labelledby": "asrun-title" });
    replace(root,
      h("section", { "aria-labelledby": "health-title" }, h("h2", { id: "health-title" }, t("onair.health")), healthBox),
      h("section", { "aria-labelledby": "channels-title" }, h("h2", { id: "channels-title" }, t("onair.channels")), channelsBox),
      asrunBox);

    // --- health and alarms ---------------------------------------------------------------
    async function health() {
      if (disposed) return;
      let body;
      try {
        const r = await api.call("GET", "/health", { raw: true }).catch((e) => e);
        body = r instanceof Error ? r.problem : await r.json();
      } catch (e) {
        body = null;
      }
      if (disposed) return;
      if (!body || !body.status) {
        replace(healthBox, h("p", { class: "problem" }, t("onair.healthUnknown")));
        return;
      }
      const channels = Object.entries(body.channels || {});
      const alarms = channels.filter(([, c]) => c.status !== "ok" || (c.degraded || []).length);
      replace(healthBox,
        h("p", {}, h("span", { class: `badge ${body.status === "ok" ? "ok" : "alarm"}` },
          body.status === "ok" ? t("onair.healthOk") : t("onair.healthBad"))),
        alarms.length
          ? h("ul", { class: "alarms", "aria-label": t("onair.alarms") }, alarms.map(([slug, c]) =>
            h("li", { class: "problem" }, t("onair.alarm", { channel: slug, what: [c.status, ...(c.degraded || [])].join(", ") }))))
          : h("p", { class: "ok" }, t("onair.noAlarms")));
      timers.push(setTimeout(health, HEALTH_POLL_MS));
    }

    // --- channels ------------------------------------------------------------------------
    let channels = [];
    try {
      channels = (await api.get(`/api/v1/channels?lang=${ctx.lang}`)).items || [];
    } catch (e) {
      replace(channelsBox, h("p", { class: "problem" }, ctx.problemText(e)));
    }
    if (disposed) return undefined;
    if (channels.length) replace(channelsBox, channels.map(channelCard));
    health();
    drawAsrun(channels);

    function channelCard(ch) {
      const now = h("div", { class: "now", "aria-live": "polite" }, h("p", { class: "loading" }, t("app.loading")));
      const links = (ch.streams || []).map((s) =>
        h("li", {}, h("a", { href: s.url, target: "_blank", rel: "noopener" },
          t("onair.listenAs", { format: s.format, bitrate: s.bitrate || "" }))));
      if (ch.links && ch.links.player) {
        links.push(h("li", {}, h("a", { href: ch.links.player, target: "_blank", rel: "noopener" },
          ch.kind === "tv" ? t("onair.watch") : t("onair.listen"))));
      }
      const card = h("article", { class: "card channel", dataset: { slug: ch.slug }, "aria-labelledby": `ch-${ch.slug}` },
        h("h3", { id: `ch-${ch.slug}` }, ch.name),
        now,
        h("ul", { class: "links", "aria-label": t("onair.links") }, links),
        controls(ch));
      const show = (np) => replace(now, nowPlaying(np, ch));
      api.get(`/api/v1/channels/${ch.slug}/now-playing?lang=${ctx.lang}`).then(show).catch((e) => {
        replace(now, h("p", { class: "muted" }, e.status === 404 ? t("onair.nothing") : ctx.problemText(e)));
      });
      if (window.EventSource) {
        const es = new EventSource(`/api/v1/channels/${ch.slug}/now-playing/events?lang=${ctx.lang}`);
        es.addEventListener("now-playing", (ev) => {
          try {
            show(JSON.parse(ev.data));
          } catch (err) {
            console.warn("a now-playing event was not JSON", err);
          }
        });
        sources.push(es);
      }
      return card;
    }

    function nowPlaying(np, ch) {
      const zone = ch.timezone || ctx.zone;
      const at = (iso) => formatTime(iso, zone, ctx.lang);
      const cur = np.current;
      const next = (np.next || [])[0];
      return h("div", {},
        h("p", {}, h("strong", {}, t("onair.now")), " ",
          cur ? h("span", { class: "current-title" }, [cur.title, cur.artist].filter(Boolean).join(" — ")) : t("onair.nothing"),
          cur && cur.ends_at ? h("span", { class: "muted" }, ` (${at(cur.started_at)}–${at(cur.ends_at)})`) : null),
        np.live ? h("p", { class: "badge alarm" }, t("onair.live", { presenter: np.presenter || "" })) : null,
        h("p", {}, h("strong", {}, t("onair.next")), " ",
          next ? `${[next.title, next.artist].filter(Boolean).join(" — ")} (${at(next.started_at)})` : "—"),
        h("p", { class: "muted" }, np.listeners == null ? t("onair.listenersUnknown") : t("onair.listeners", { n: np.listeners })));
    }

    function controls(ch) {
      const skipNeed = "POST /api/v1/manage/channels/{slug}/skip";
      const playNeed = "POST /api/v1/manage/channels/{slug}/play-now";
      if (!ctx.can(skipNeed) && !ctx.can(playNeed)) return null;
      if (ch.kind !== "radio") return null; // TV refuses them (not-on-tv): its sequencer would not follow
      const status = h("p", { role: "status", class: "muted" });
      const mediaChoice = h("select", { id: `play-${ch.slug}` });
      const act = async (path, body, ask, done) => {
        if (!(await ctx.confirm(ask))) return;
        try {
          await api.post(path, body);
          status.textContent = done;
          ctx.toast(done, "ok");
        } catch (e) {
          status.textContent = e.status === 404 || e.status === 405 ? t("app.notAvailable") : ctx.problemText(e);
        }
      };
      api.get("/api/v1/media?status=ready&limit=100").then((page) => {
        replace(mediaChoice, page.items.map((m) => h("option", { value: m.id }, m.title || m.original_name)));
      }).catch(() => null);
      return h("div", { class: "controls" },
        ctx.can(skipNeed) ? h("button", {
          type: "button", class: "danger", "data-action": "skip",
          onclick: () => act(`/api/v1/manage/channels/${ch.slug}/skip`, {}, t("onair.confirmSkip", { channel: ch.name }), t("onair.skipped")),
        }, t("onair.skip")) : null,
        ctx.can(playNeed) ? h("div", { class: "row" },
          h("div", {}, h("label", { for: `play-${ch.slug}` }, t("onair.playNowWhat")), mediaChoice),
          h("button", {
            type: "button", "data-action": "play-now",
            onclick: () => act(`/api/v1/manage/channels/${ch.slug}/play-now`, { media_id: Number(mediaChoice.value) },
              t("onair.confirmPlayNow", { title: mediaChoice.selectedOptions[0] ? mediaChoice.selectedOptions[0].textContent : "", channel: ch.name }),
              t("onair.playing")),
          }, t("onair.playNow"))) : null,
        status);
    }

    // --- the as-run log -----------------------------------------------------------------------
    function drawAsrun(chs) {
      const channel = h("select", { id: "asrun-channel" }, chs.map((c) => h("option", { value: c.slug }, c.name)));
      // The as-run's outcomes, as the API names them (playout/sequencer.py), in words.
      const outcomes = {
        "played": t("onair.outcome.played"),
        "cut-short": t("onair.outcome.cutShort"),
        "skipped-by-operator": t("onair.outcome.skippedByOperator"),
        "skipped-missing": t("onair.outcome.skippedMissing"),
        "overridden-by-live": t("onair.outcome.overriddenByLive"),
      };
      const outcome = h("select", { id: "asrun-outcome" },
        h("option", { value: "" }, t("onair.anyOutcome")),
        Object.entries(outcomes).map(([value, words]) => h("option", { value }, words)));
      const from = h("input", { id: "asrun-from", type: "date" });
      const table = h("div", { class: "table-wrap", "aria-live": "polite" });
      const csv = h("button", { type: "button", id: "asrun-csv", onclick: () => exportCsv() }, t("onair.csv"));
      const query = () => {
        const p = new URLSearchParams({ channel: channel.value, limit: "100" });
        if (outcome.value) p.set("outcome", outcome.value);
        if (from.value) p.set("from", new Date(`${from.value}T00:00:00`).toISOString());
        return p;
      };
      async function load() {
        if (!channel.value) return;
        try {
          const page = await api.get(`/api/v1/manage/asrun?${query()}`);
          if (disposed) return;
          const rows = page.items || [];
          replace(table, rows.length ? h("table", { class: "stack" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("onair.at")), h("th", { scope: "col" }, t("onair.title")),
              h("th", { scope: "col" }, t("onair.outcome")))),
            h("tbody", {}, rows.map((r) => h("tr", {},
              h("td", { "data-label": t("onair.at") }, formatTime(r.actual_start, ctx.zone, ctx.lang, { date: true, seconds: true })),
              h("td", { "data-label": t("onair.title") }, [r.title, r.artist].filter(Boolean).join(" — ")),
              h("td", { "data-label": t("onair.outcome"), "data-outcome": r.outcome }, outcomes[r.outcome] || r.outcome))))) : h("p", { class: "muted" }, t("onair.asrunEmpty")));
        } catch (e) {
          replace(table, h("p", { class: "muted" }, ctx.problemText(e)));
          csv.hidden = e.status === 404;
        }
      }
      // What airs is logged as it starts: the log is read again while the page is open.
      async function poll() {
        await load();
        if (!disposed) timers.push(setTimeout(poll, ASRUN_POLL_MS));
      }
      async function exportCsv() {
        try {
          const p = query();
          p.set("format", "csv");
          const r = await api.call("GET", `/api/v1/manage/asrun?${p}`, { raw: true, headers: { Accept: "text/csv" } });
          const url = URL.createObjectURL(await r.blob());
          const a = h("a", { href: url, download: `asrun-${channel.value}.csv` });
          document.body.appendChild(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(url), 10000);
        } catch (e) {
          ctx.toast(ctx.problemText(e), "error");
        }
      }
      for (const el of [channel, outcome, from]) el.addEventListener("change", load);
      replace(asrunBox,
        h("h2", { id: "asrun-title" }, t("onair.asrun")),
        h("div", { class: "row card" },
          h("div", {}, h("label", { for: "asrun-channel" }, t("onair.channel")), channel),
          h("div", {}, h("label", { for: "asrun-outcome" }, t("onair.outcome")), outcome),
          h("div", {}, h("label", { for: "asrun-from" }, t("onair.from")), from),
          csv),
        table);
      poll();
    }

    return () => {
      disposed = true;
      for (const es of sources) es.close();
      for (const id of timers) clearTimeout(id);
    };
  },
};
