// The episode page's player: the episode's HLS in <video>, played natively where the browser
// can, else with the vendored hls.js; nothing is fetched before the visitor presses play.
(() => {
  "use strict";

  const video = document.getElementById("player");
  if (!video) return;
  const src = video.dataset.hls;
  if (video.canPlayType("application/vnd.apple.mpegurl")) {
    video.src = src;
  } else if (window.Hls && Hls.isSupported()) {
    const hls = new Hls({ autoStartLoad: false });
    hls.loadSource(src);
    hls.attachMedia(video);
    video.addEventListener("play", () => hls.startLoad(), { once: true });
    window.episodeHls = hls;  // what a test can read
  } else {
    document.getElementById("player-note").textContent = video.dataset.noHls;
  }
})();
