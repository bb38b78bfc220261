// Diaspor.FM and Diaspor TV players for other sites (docs/embed.md). Put an element where a
// player should be, and this script once on the page:
//   <div data-diaspor-player="radio" data-channel="diaspor-fm" data-lang="en"></div>
//   <script src="https://STATION/embed.js" async></script>
// Each such element is replaced by an iframe of the station's player page, from the origin
// this script came from. Options: data-lang (else the page's own), data-theme, data-accent
// (passed to the player), data-width, data-height, data-title. "TITLES =" is strict JSON
// (tests/test_embed.py reads it).
(() => {
  "use strict";

  const TITLES = {
    "az": { "radio": "Radio pleyeri", "tv": "TV pleyeri" },
    "en": { "radio": "Radio player", "tv": "TV player" },
    "ru": { "radio": "Радиоплеер", "tv": "ТВ-плеер" }
  };
  // width, max-width, height (or the aspect ratio, for TV: 16:9 video above a bar)
  const SIZES = { radio: ["100%", "480px", "96px"], tv: ["100%", "640px", null] };
  const LENGTH = /^\d+(\.\d+)?(px|%|em|rem|vw|vh)?$/;
  const script = document.currentScript;
  if (!script) return;
  const origin = new URL(script.src).origin;

  function length(value) {
    if (!value || !LENGTH.test(value)) return null;
    return /\d$/.test(value) ? `${value}px` : value;
  }

  const primary = (tag) => (tag || "").toLowerCase().split("-")[0];
  const spoken = (tag) => Object.hasOwn(TITLES, tag);

  // The player's language: data-lang, else the page's own if the player speaks it, else
  // none (the player follows the visitor's browser).
  function language(el) {
    if (el.dataset.lang) return el.dataset.lang;
    const page = primary(document.documentElement.lang);
    return spoken(page) ? page : null;
  }

  function replace(el) {
    const kind = el.dataset.diasporPlayer;
    const channel = el.dataset.channel;
    if (!Object.hasOwn(SIZES, kind) || !channel) {
      console.warn("data-diaspor-player needs radio or tv, and data-channel", el);
      return;
    }
    const lang = language(el);
    const query = new URLSearchParams(lang ? { lang } : {});
    for (const key of ["theme", "accent"]) {
      if (el.dataset[key]) query.set(key, el.dataset[key]);
    }
    const said = [lang, ...navigator.languages].map(primary).find(spoken) || "az";
    const frame = document.createElement("iframe");
    frame.src = `${origin}/embed/${kind}/${encodeURIComponent(channel)}`
      + (String(query) ? `?${query}` : "");
    frame.title = el.dataset.title || `${TITLES[said][kind]}: ${channel}`;
    frame.allow = "autoplay; fullscreen; picture-in-picture";
    frame.allowFullscreen = true;
    frame.loading = "lazy";
    const [width, maxWidth, height] = SIZES[kind];
    const style = frame.style;
    style.border = "0";
    style.display = "block";
    style.width = length(el.dataset.width) || width;
    style.maxWidth = el.dataset.width ? "100%" : maxWidth;
    style.height = length(el.dataset.height) || height || "auto";
    if (!height && !el.dataset.height) style.aspectRatio = "16 / 11";
    el.replaceWith(frame);
  }

  function replaceAll() {
    document.querySelectorAll("[data-diaspor-player]").forEach(replace);
  }

  replaceAll();  // the elements above this script (async: maybe all of them)
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", replaceAll);
})();
