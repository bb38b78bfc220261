// The web player: reads the public API only. Radio: MP3 (or AAC, or HLS) in <audio>, the
// title from the now-playing Server-Sent Events. TV: the channel's HLS master with the
// vendored hls.js (Safari plays HLS itself). Today's schedule and the latest episodes in the
// chosen language (?lang=, then localStorage, then Azerbaijani).
(() => {
  "use strict";

  const STRINGS = window.DIASPOR_I18N;
  const LANGS = ["az", "en", "ru"];
  const LOCALES = { az: "az", en: "en-GB", ru: "ru" };
  const STORE_KEY = "diaspor.lang";
  const REFRESH_MS = 60000;
  const $ = (id) => document.getElementById(id);

  const state = {
    lang: initialLang(),
    radio: null,         // the radio channel (from /api/v1/channels)
    tv: null,            // the TV channel
    np: {},              // latest now-playing per kind ("radio", "tv")
    sources: {},         // EventSource per kind
    radioWanted: false,  // the listener pressed play
    radioHls: null,
    hls: null,
    tvSrc: null,
    vod: null,           // the episode being watched instead of the channel
  };
  // What a test or an embedding page can read.
  window.player = { errors: [], fatal: null, hls: null, nowPlaying: state.np, lang: state.lang };

  function initialLang() {
    const asked = new URLSearchParams(location.search).get("lang");
    if (LANGS.includes(asked)) return asked;
    try {
      const kept = localStorage.getItem(STORE_KEY);
      if (LANGS.includes(kept)) return kept;
    } catch (_) { /* storage may be disabled: the default will do */ }
    return "az";
  }

  function t(key) {
    const table = STRINGS[state.lang] || STRINGS.az;
    return table[key] !== undefined ? table[key] : (STRINGS.az[key] || key);
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  async function api(path) {
    const res = await fetch(path, { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    return res.json();
  }

  function withLang(path) {
    return `${path}${path.includes("?") ? "&" : "?"}lang=${state.lang}`;
  }

  // ---- language -------------------------------------------------------------------------

  function applyStrings() {
    document.documentElement.lang = state.lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => {
      node.textContent = t(node.dataset.i18n);
    });
    document.querySelectorAll("[data-i18n-label]").forEach((node) => {
      node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    });
    document.querySelectorAll(".langs button").forEach((b) => {
      b.setAttribute("aria-pressed", String(b.dataset.lang === state.lang));
    });
    updatePlayButton();
    renderNowPlaying("radio");
    renderNowPlaying("tv");
  }

  function setLang(lang) {
    if (!LANGS.includes(lang) || lang === state.lang) return;
    state.lang = lang;
    window.player.lang = lang;
    try { localStorage.setItem(STORE_KEY, lang); } catch (_) { /* not kept, still shown */ }
    const url = new URL(location.href);
    url.searchParams.set("lang", lang);
    history.replaceState(null, "", url);
    applyStrings();
    loadAll();
  }

  // ---- radio ----------------------------------------------------------------------------

  function radioStream() {
    const streams = (state.radio && state.radio.streams) || [];
    const audio = $("radio-audio");
    const types = { mp3: "audio/mpeg", aac: "audio/aac" };
    for (const format of ["mp3", "aac"]) {
      const s = streams.find((x) => x.format === format);
      if (s && audio.canPlayType(types[format])) return s;
    }
    return streams.find((x) => x.format === "hls") || null;
  }

  function updatePlayButton() {
    const button = $("radio-play");
    button.setAttribute("aria-pressed", String(state.radioWanted));
    button.setAttribute("aria-label", t(state.radioWanted ? "pause" : "play"));
    button.querySelector(".icon").textContent = state.radioWanted ? "❚❚" : "▶";
    button.disabled = !state.radio;
  }

  function radioStatus(key) {
    $("radio-status").textContent = key ? t(key) : "";
    $("radio-status").dataset.key = key || "";
  }

  function startRadio() {
    const stream = radioStream();
    if (!stream) { radioStatus("noRadio"); return; }
    const audio = $("radio-audio");
    state.radioWanted = true;
    updatePlayButton();
    radioStatus("connecting");
    $("tv-video").muted = true;  // one sound at a time
    if (stream.format === "hls" && !audio.canPlayType("application/vnd.apple.mpegurl")) {
      if (!(window.Hls && Hls.isSupported())) { stopRadio(); radioStatus("noHls"); return; }
      state.radioHls = new Hls();
      state.radioHls.loadSource(stream.url);
      state.radioHls.attachMedia(audio);
    } else {
      audio.src = stream.url;  // a live stream: start from now, not from an old buffer
    }
    audio.play().catch((err) => {
      if (!state.radioWanted) return;
      console.warn("radio did not start", err);
      stopRadio();
      radioStatus("audioError");
    });
  }

  function stopRadio() {
    const audio = $("radio-audio");
    state.radioWanted = false;
    audio.pause();
    if (state.radioHls) { state.radioHls.destroy(); state.radioHls = null; }
    audio.removeAttribute("src");
    audio.load();  // drop the connection to the stream
    updatePlayButton();
    radioStatus("");
  }

  function setupRadioEvents() {
    const audio = $("radio-audio");
    $("radio-play").addEventListener("click", () => (state.radioWanted ? stopRadio() : startRadio()));
    audio.addEventListener("playing", () => radioStatus(""));
    audio.addEventListener("waiting", () => { if (state.radioWanted) radioStatus("connecting"); });
    audio.addEventListener("error", () => {
      if (!state.radioWanted) return;
      stopRadio();
      radioStatus("audioError");
    });
  }

  // ---- now playing (Server-Sent Events) ---------------------------------------------------

  function follow(kind) {
    const ch = state[kind];
    const old = state.sources[kind];
    if (old && ch && old.slug === ch.slug) return;
    if (old) old.source.close();
    delete state.sources[kind];
    if (!ch) return;
    const source = new EventSource(
      `/api/v1/channels/${encodeURIComponent(ch.slug)}/now-playing/events`);
    source.addEventListener("now-playing", (e) => {
      try {
        state.np[kind] = JSON.parse(e.data);
      } catch (err) {
        console.warn("bad now-playing event", err);
        return;
      }
      renderNowPlaying(kind);
    });
    state.sources[kind] = { slug: ch.slug, source };
  }

  function renderNowPlaying(kind) {
    const np = state.np[kind];
    const cur = np && np.current;
    if (kind === "radio") {
      $("radio-title").textContent = cur ? cur.title || "—" : "—";
      $("radio-artist").textContent = np && np.live && np.presenter
        ? np.presenter : (cur && cur.artist) || "";
      $("radio-live").hidden = !(np && np.live);
      const next = np && np.next && np.next[0];
      $("radio-next").textContent = next
        ? `${t("next")}: ${next.title}${next.artist ? " — " + next.artist : ""}` : "";
    } else {
      $("tv-label").textContent = t(state.vod ? "watching" : "onAir");
      $("tv-title").textContent = state.vod ? state.vod.title : (cur ? cur.title || "" : "");
    }
  }

  // ---- TV -------------------------------------------------------------------------------

  function tvStatus(text) { $("tv-status").textContent = text || ""; }

  function playHls(src) {
    if (state.tvSrc === src) return;
    state.tvSrc = src;
    const video = $("tv-video");
    if (state.hls) { state.hls.destroy(); state.hls = null; }
    tvStatus("");
    if (window.Hls && Hls.isSupported()) {
      const hls = new Hls({ liveSyncDurationCount: 3 });
      state.hls = hls;
      window.player.hls = hls;
      hls.on(Hls.Events.ERROR, (_, data) => {
        window.player.errors.push(data.details);
        if (!data.fatal) return;
        if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
          setTimeout(() => { if (state.hls === hls) hls.startLoad(); }, 2000);
        } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          window.player.fatal = data.details;
          tvStatus(`${t("videoError")}: ${data.details}`);
        }
      });
      hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => { /* needs a tap */ }));
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
      video.play().catch(() => { /* needs a tap */ });
    } else {
      tvStatus(t("noHls"));
    }
  }

  function setupTv() {
    const live = state.tv && state.tv.streams.find((s) => s.format === "hls");
    if (!live) {
      if (!state.vod) tvStatus(t("noTv"));
      return;
    }
    if (!state.vod) playHls(live.url);
  }

  async function watchEpisode(id) {
    try {
      const ep = await api(withLang(`/api/v1/episodes/${id}`));
      if (!ep.hls) return;
      state.vod = { id, title: ep.programme_title ? `${ep.programme_title}: ${ep.title}` : ep.title };
      $("tv-live").hidden = !state.tv;
      playHls(ep.hls);
      renderNowPlaying("tv");
      $("tv").scrollIntoView({ behavior: "smooth", block: "start" });
    } catch (err) {
      console.warn("episode not loaded", err);
      tvStatus(t("loadError"));
    }
  }

  function backToLive() {
    state.vod = null;
    $("tv-live").hidden = true;
    setupTv();
    renderNowPlaying("tv");
  }

  function setupTvEvents() {
    $("tv-live").addEventListener("click", backToLive);
    // Unmuting the TV pauses the radio: one sound at a time.
    $("tv-video").addEventListener("volumechange", (e) => {
      if (!e.target.muted && state.radioWanted) stopRadio();
    });
  }

  // ---- schedule -------------------------------------------------------------------------

  function clock(iso, tz) {
    return new Intl.DateTimeFormat(LOCALES[state.lang], {
      hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz,
    }).format(new Date(iso));
  }

  // Times are shown in the listener's zone: the page's ?tz=, else the browser's. The
  // channel's own time is shown beside each, when it differs.
  function viewerZone() {
    const asked = new URLSearchParams(location.search).get("tz");
    if (asked) return asked;
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
    } catch (err) {
      return null;
    }
  }

  function zoneName(tz) {
    return tz === "Asia/Baku" ? t("bakuTime") : tz;
  }

  function renderSchedule(parts) {
    const box = $("schedule");
    box.replaceChildren();
    const now = Date.now();
    for (const { channel, guide } of parts) {
      const group = el("div", "guide");
      const shown = guide && (guide.tz || guide.timezone);
      const h = el("h3", null, channel.name || channel.slug);
      if (shown) {
        const own = shown === guide.timezone;
        h.append(" ", el("small", "muted", `(${own ? zoneName(shown) : `${t("yourTime")}: ${shown}`})`));
      }
      group.append(h);
      const blocks = guide ? guide.blocks.filter((b) => Date.parse(b.end) > now).slice(0, 8) : [];
      if (!guide) {
        group.append(el("p", "muted", t("loadError")));
      } else if (!blocks.length) {
        group.append(el("p", "muted", t("noSchedule")));
      } else {
        const list = el("ol", "guide-list");
        for (const b of blocks) {
          const item = el("li", "guide-item");
          const onNow = Date.parse(b.start) <= now;
          if (onNow) item.classList.add("now");
          const time = el("time", "at", clock(b.start, shown));
          time.dateTime = b.start;
          const there = clock(b.start, guide.timezone);
          if (there !== time.textContent) {
            time.append(el("small", "there", `${there} ${zoneName(guide.timezone)}`));
          }
          const text = el("div", "what");
          text.append(el("span", "guide-title", b.title || "—"));
          if (b.subtitle) text.append(el("span", "guide-sub", b.subtitle));
          item.append(time, text);
          if (onNow) item.append(el("span", "badge", t("now")));
          list.append(item);
        }
        group.append(list);
      }
      box.append(group);
    }
  }

  async function loadSchedule(channels, lang) {
    const parts = await Promise.all(channels.map(async (channel) => {
      try {
        // What is on from now to the end of the next six hours: "today" as a listener
        // means what is still to come, and a channel with short programmes has thousands
        // of blocks in a whole day.
        const from = new Date(Date.now() - 3600e3).toISOString();
        const to = new Date(Date.now() + 6 * 3600e3).toISOString();
        const path = `/api/v1/channels/${encodeURIComponent(channel.slug)}/schedule` +
          `?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`;
        const zone = viewerZone();
        let guide;
        try {
          guide = await api(withLang(zone ? `${path}&tz=${encodeURIComponent(zone)}` : path));
        } catch (err) {
          if (!zone) throw err;
          guide = await api(withLang(path)); // a zone the station does not know: its own
        }
        return { channel, guide };
      } catch (err) {
        console.warn("schedule not loaded", err);
        return { channel, guide: null };
      }
    }));
    if (lang === state.lang) renderSchedule(parts);
  }

  // ---- episodes -------------------------------------------------------------------------

  function duration(ms) {
    if (!ms) return null;
    return `${Math.max(1, Math.round(ms / 60000))} ${t("minutes")}`;
  }

  function renderEpisodes(page, programmes) {
    const list = $("episodes");
    list.replaceChildren();
    const names = Object.fromEntries(programmes.map((p) => [p.slug, p.title]));
    for (const e of page.items) {
      const item = el("li", "episode");
      const pic = el("div", "thumb");
      if (e.image) {
        const img = el("img");
        img.src = e.image;
        img.alt = "";
        img.loading = "lazy";
        pic.append(img);
      }
      const text = el("div", "what");
      text.append(el("span", "programme-title", names[e.programme] || e.programme));
      text.append(el("span", "episode-title", e.title));
      const facts = [];
      if (e.season) facts.push(`${t("season")} ${e.season}`);
      if (e.number) facts.push(`${t("episode")} ${e.number}`);
      const d = duration(e.duration_ms);
      if (d) facts.push(d);
      if (facts.length) text.append(el("span", "muted", facts.join(" · ")));
      item.append(pic, text);
      if (e.availability && e.availability.on_demand) {
        const watch = el("button", "pill", t("watch"));
        watch.type = "button";
        watch.setAttribute("aria-label", `${t("watch")}: ${names[e.programme] || ""} ${e.title}`.trim());
        watch.addEventListener("click", () => watchEpisode(e.id));
        item.append(watch);
      }
      list.append(item);
    }
    $("episodes-empty").hidden = page.items.length > 0;
  }

  async function loadEpisodes(lang) {
    try {
      const [page, programmes] = await Promise.all([
        api(withLang("/api/v1/episodes?limit=12")), api(withLang("/api/v1/programmes")),
      ]);
      if (lang === state.lang) renderEpisodes(page, programmes.items);
    } catch (err) {
      console.warn("episodes not loaded", err);
    }
  }

  // ---- loading --------------------------------------------------------------------------

  async function loadChannels(lang) {
    const channels = (await api(withLang("/api/v1/channels"))).items;
    if (lang !== state.lang) return channels;
    state.radio = channels.find((c) => c.kind === "radio") || null;
    state.tv = channels.find((c) => c.kind === "tv") || null;
    $("radio-name").textContent = state.radio ? state.radio.name : "";
    $("tv-name").textContent = state.tv ? state.tv.name : "";
    updatePlayButton();
    if (!state.radio || !radioStream()) radioStatus("noRadio");
    else if ($("radio-status").dataset.key === "noRadio") radioStatus("");
    setupTv();
    follow("radio");
    follow("tv");
    return channels;
  }

  async function loadAll() {
    const lang = state.lang;
    try {
      const channels = await loadChannels(lang);
      await Promise.all([loadSchedule(channels, lang), loadEpisodes(lang)]);
    } catch (err) {
      console.warn("channels not loaded", err);
      radioStatus("loadError");
    }
  }

  document.querySelectorAll(".langs button").forEach((b) => {
    b.addEventListener("click", () => setLang(b.dataset.lang));
  });
  setupRadioEvents();
  setupTvEvents();
  applyStrings();
  loadAll();
  // Streams appear when playout starts; the guide's "now" moves; new episodes arrive.
  setInterval(loadAll, REFRESH_MS);
})();
