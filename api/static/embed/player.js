// The embedded player, radio or TV (/embed/<kind>/<channel>): the channel's name, logo and
// stream from the public API, the title on air from its Server-Sent Events, play and pause.
// The query chooses lang (else the browser's language, else az), theme (light or dark) and
// accent (a hex colour, used only if it is one). No cookies, no storage, nothing else loaded
// but hls.js, for TV, at the first press of play where the browser has no HLS of its own.
(() => {
  "use strict";

  const MESSAGES = window.DIASPOR_EMBED_MESSAGES;
  const HLS_JS = "/static/vendor/hls.js-1.7.4/hls.min.js";
  const HLS_TYPE = "application/vnd.apple.mpegurl";
  const AUDIO_TYPES = { mp3: "audio/mpeg", aac: "audio/aac" };
  const query = new URLSearchParams(location.search);
  const [, , kind, slug] = location.pathname.split("/").map(decodeURIComponent);
  const lang = [query.get("lang"), ...navigator.languages]
    .map((tag) => (tag || "").toLowerCase().split("-")[0])
    .find((tag) => Object.hasOwn(MESSAGES, tag)) || "az";
  const state = { channel: null, media: null, hls: null, wanted: false };
  const t = (key) => MESSAGES[lang][key];
  const $ = (id) => document.getElementById(id);

  // Before anything is drawn: the language, the layout and the colours.
  const root = document.documentElement;
  root.lang = lang;
  root.dataset.kind = kind;
  if (query.get("theme") === "dark") root.dataset.theme = "dark";
  const accent = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(query.get("accent") || "");
  if (accent) {
    const hex = accent[1].length === 3 ? accent[1].replace(/./g, "$&$&") : accent[1];
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16));
    root.style.setProperty("--accent", `#${hex}`);
    // Dark text on a light accent, light text on a dark one.
    root.style.setProperty("--on-accent", 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#000" : "#fff");
  }

  function say(key) {
    $("status").textContent = key ? t(key) : "";
  }

  function showButton() {
    const button = $("play");
    button.setAttribute("aria-pressed", String(state.wanted));
    button.setAttribute("aria-label", t(state.wanted ? "pause" : kind === "tv" ? "watch" : "listen"));
    $("icon").textContent = state.wanted ? "❚❚" : "▶";
  }

  async function loadChannel() {
    const res = await fetch(`/api/v1/channels/${encodeURIComponent(slug)}?lang=${lang}`,
      { credentials: "omit" });
    if (!res.ok) throw new Error(`channel: HTTP ${res.status}`);
    const channel = await res.json();
    state.channel = channel;
    $("name").textContent = document.title = channel.name;
    if (channel.logo) {
      $("logo").src = channel.logo;
      $("logo").hidden = false;
    }
  }

  // Radio: MP3, else AAC, else HLS where the browser plays it itself. TV: the HLS master.
  function stream() {
    const streams = state.channel ? state.channel.streams : [];
    const find = (format) => streams.find((s) => s.format === format);
    if (kind === "tv") return find("hls");
    return ["mp3", "aac"].map(find)
      .find((s) => s && state.media.canPlayType(AUDIO_TYPES[s.format]))
      || (state.media.canPlayType(HLS_TYPE) ? find("hls") : undefined);
  }

  function hlsJs() {
    if (window.Hls) return Promise.resolve(window.Hls);
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = HLS_JS;
      script.onload = () => resolve(window.Hls);
      script.onerror = () => reject(new Error("hls.js did not load"));
      document.head.append(script);
    });
  }

  // Let go of the stream: the next play starts from what is on air then.
  function release() {
    const media = state.media;
    if (state.hls) {
      state.hls.destroy();
      state.hls = null;
    }
    media.pause();
    media.removeAttribute("src");
    media.load();
    media.controls = false;
  }

  function stop(why) {
    state.wanted = false;
    release();
    showButton();
    say(why);
  }

  async function play() {
    release();
    state.wanted = true;
    showButton();
    say("connecting");
    const media = state.media;
    try {
      if (!stream()) await loadChannel();  // streams appear when playout starts
      const s = stream();
      if (!s) return stop("offAir");
      const Hls = s.format === "hls" && !media.canPlayType(HLS_TYPE) ? await hlsJs() : null;
      if (!state.wanted) return;  // paused meanwhile
      if (Hls && !Hls.isSupported()) return stop("noHls");
      if (Hls) {
        state.hls = new Hls({ liveSyncDurationCount: 3 });
        state.hls.on(Hls.Events.ERROR, (_, data) => { if (data.fatal) stop("playError"); });
        state.hls.attachMedia(media);
        state.hls.loadSource(s.url);
      } else {
        media.src = s.url;
      }
      await media.play();
    } catch (err) {
      if (!state.wanted) return;  // a pause interrupted it
      console.warn("did not play", err);
      stop("playError");
    }
  }

  function addMedia() {
    const media = document.createElement(kind === "tv" ? "video" : "audio");
    media.id = "media";
    media.preload = "none";
    media.playsInline = true;
    media.addEventListener("playing", () => {
      say("");
      media.controls = kind === "tv";  // volume and full screen
    });
    media.addEventListener("waiting", () => { if (state.wanted) say("connecting"); });
    media.addEventListener("error", () => { if (state.wanted) stop("playError"); });
    // The video's own controls may pause and play it too.
    media.addEventListener("pause", () => { if (state.wanted) { state.wanted = false; showButton(); } });
    media.addEventListener("play", () => { if (!state.wanted) { state.wanted = true; showButton(); } });
    state.media = media;
    document.body.prepend(media);
  }

  function follow() {
    const events = new EventSource(
      `/api/v1/channels/${encodeURIComponent(slug)}/now-playing/events`);
    events.addEventListener("now-playing", (e) => {
      let np;
      try {
        np = JSON.parse(e.data);
      } catch (err) {
        console.warn("bad now-playing event", err);
        return;
      }
      const current = np.current || {};
      const who = np.live ? np.presenter : current.artist;
      $("title").textContent = [current.title, who].filter(Boolean).join(" — ") || "—";
      $("live").hidden = !np.live;
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-i18n]").forEach((node) => {
      node.textContent = t(node.dataset.i18n);
    });
    addMedia();
    showButton();
    $("play").addEventListener("click", () => (state.wanted ? stop("") : play()));
    loadChannel().catch((err) => {
      console.warn("channel not loaded", err);
      say("loadError");
    });
    follow();
  });
})();
