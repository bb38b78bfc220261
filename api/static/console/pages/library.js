// The library: drop many files at once (resumable tus uploads, or one POST each where the
// station has no tus endpoint), follow analysis live, search and filter, and edit an item:
// titles in az/en/ru, artist and album, cue in/out over its waveform with a preview from cue
// in, subtitles and artwork; delete, refused with the API's reason while something uses it.

import { formatBytes, formatDuration, formatTime, replace } from "../lib.js";

const TUS_SCRIPT = "/static/vendor/tus-js-client-4.3.1/tus.min.js";
const CHUNK_BYTES = 5 * 1024 * 1024; // one PATCH at most: a dropped connection loses no more
const KINDS = ["music", "speech", "jingle", "filler", "programme", "video"];
const LANGS = ["az", "en", "ru"];
const POLL_MS = 1000;

// Uploads outlive the page: going elsewhere in the console does not stop them, and coming
// back shows their progress (the same list). Leaving the console while one runs asks first.
const running = new Set();
let progressKept = null;
let showFinished = null; // the library page on screen now: shows a finished upload in its list
window.addEventListener("beforeunload", (e) => {
  if (running.size) e.preventDefault();
});

let tusLoading = null;
function loadTus() {
  if (window.tus) return Promise.resolve(window.tus);
  if (!tusLoading) {
    tusLoading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = TUS_SCRIPT;
      s.onload = () => resolve(window.tus);
      s.onerror = () => reject(new Error("tus-js-client did not load"));
      document.head.appendChild(s);
    });
  }
  return tusLoading;
}

export default {
  async render(root, ctx) {
    const { api, t, h } = ctx;
    let disposed = false;
    const canUpload = ctx.can("POST /api/v1/media");
    const canEdit = ctx.can("PATCH /api/v1/media/{media_id}");
    const canDelete = ctx.can("DELETE /api/v1/media/{media_id}");
    const kindNames = {
      music: () => t("library.kind.music"),
      speech: () => t("library.kind.speech"),
      jingle: () => t("library.kind.jingle"),
      filler: () => t("library.kind.filler"),
      programme: () => t("library.kind.programme"),
      video: () => t("library.kind.video"),
    };
    const statusNames = {
      pending: () => t("library.status.pending"),
      processing: () => t("library.status.processing"),
      ready: () => t("library.status.ready"),
      failed: () => t("library.status.failed"),
    };
    const langNames = { az: () => t("library.lang.az"), en: () => t("library.lang.en"), ru: () => t("library.lang.ru") };
    const name = (table, key) => (table[key] ? table[key]() : key);

    // --- uploads -------------------------------------------------------------------------
    const progressList = progressKept || h("ul", { class: "uploads", "aria-live": "polite", "aria-label": t("library.uploads") });
    progressKept = progressList;
    let tusAvailable = null; // decided on the first drop: OPTIONS /api/v1/uploads
    async function hasTus() {
      if (tusAvailable === null) {
        try {
          const r = await api.call("OPTIONS", "/api/v1/uploads", { raw: true });
          tusAvailable = r.status === 204 || Boolean(r.headers.get("tus-version"));
        } catch {
          tusAvailable = false;
        }
      }
      return tusAvailable;
    }

    const kindChoice = h(
      "select",
      { id: "upload-kind" },
      KINDS.map((k) => h("option", { value: k }, name(kindNames, k))),
    );
    const fileInput = h("input", {
      type: "file",
      id: "upload-files",
      multiple: true,
      accept: "audio/*,video/*",
      onchange: (e) => {
        startUploads([...e.target.files]);
        e.target.value = "";
      },
    });
    const drop = h(
      "div",
      {
        class: "dropzone",
        id: "dropzone",
        ondragover: (e) => {
          e.preventDefault();
          drop.classList.add("over");
        },
        ondragleave: () => drop.classList.remove("over"),
        ondrop: (e) => {
          e.preventDefault();
          drop.classList.remove("over");
          startUploads([...e.dataTransfer.files]);
        },
      },
      h("p", {}, t("library.drop")),
      h("div", { class: "row" },
        h("div", {}, h("label", { for: "upload-kind" }, t("library.kindOfFiles")), kindChoice),
        h("div", {}, h("label", { for: "upload-files" }, t("library.chooseFiles")), fileInput),
      ),
    );

    function startUploads(files) {
      for (const file of files) uploadOne(file, kindChoice.value);
    }

    async function uploadOne(file, kind) {
      const bar = h("progress", { max: 100, value: 0, "aria-label": t("library.progressOf", { name: file.name }) });
      const status = h("span", { class: "upload-status" }, t("library.waiting"));
      const item = h("li", { class: "upload", dataset: { name: file.name } },
        h("div", {}, h("strong", {}, file.name), " ", h("span", { class: "muted" }, formatBytes(file.size, ctx.lang))),
        bar, status);
      progressList.appendChild(item);
      const say = (text, kindOf) => {
        status.textContent = text;
        item.dataset.state = kindOf || "";
      };
      running.add(item);
      try {
        const done = (await hasTus()) ? await viaTus(file, kind, bar, say) : await viaPost(file, kind, bar, say);
        item.dataset.mediaId = String(done.mediaId);
        if (done.jobId) await followJob(done.jobId, bar, say);
        else say(t("library.alreadyThere"), "done");
        if (showFinished) showFinished();
      } catch (e) {
        say(t("library.uploadFailed", { reason: ctx.problemText(e) }), "failed");
      } finally {
        running.delete(item);
      }
    }

    async function viaTus(file, kind, bar, say) {
      const tus = await loadTus();
      return new Promise((resolve, reject) => {
        const found = {};
        let refreshed = null; // a refresh after a 401, awaited before the retry goes out
        const upload = new tus.Upload(file, {
          endpoint: "/api/v1/uploads",
          chunkSize: CHUNK_BYTES,
          retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
          removeFingerprintOnSuccess: true,
          metadata: { filename: file.name, kind },
          onBeforeRequest: async (req) => {
            if (refreshed) await refreshed;
            refreshed = null;
            req.setHeader("Authorization", `Bearer ${api.token()}`);
          },
          onShouldRetry: (err, attempt, options) => {
            const s = err.originalResponse ? err.originalResponse.getStatus() : 0;
            if (s === 401) {
              refreshed = api.refresh();
              return attempt < 2;
            }
            say(t("library.reconnecting"), "retrying");
            return !s || s === 409 || s === 423 || s >= 500;
          },
          onProgress: (sent, total) => {
            bar.value = Math.round((sent / total) * 100);
            say(t("library.sending", { percent: bar.value }), "sending");
          },
          onAfterResponse: (req, res) => {
            const mediaId = res.getHeader("Diaspor-Media-Id");
            const jobId = res.getHeader("Diaspor-Job-Id");
            if (mediaId) found.mediaId = mediaId;
            if (jobId) found.jobId = jobId;
          },
          onError: (err) => {
            const body = err.originalResponse && err.originalResponse.getBody();
            let problem = null;
            try {
              problem = body ? JSON.parse(body) : null;
            } catch {
              problem = null;
            }
            reject(problem ? { problem, status: err.originalResponse.getStatus() } : err);
          },
          onSuccess: async () => {
            if (!found.mediaId && upload.url) {
              try {
                const u = await api.get(new URL(upload.url, location.href).pathname);
                found.mediaId = u.media_id;
                found.jobId = u.job_id;
              } catch (e) {
                reject(e);
                return;
              }
            }
            resolve(found);
          },
        });
        upload.findPreviousUploads().then((previous) => {
          if (previous.length) upload.resumeFromPreviousUpload(previous[0]);
          upload.start();
        });
      });
    }

    // Without tus: one multipart POST, with the browser's upload progress.
    function viaPost(file, kind, bar, say) {
      return new Promise((resolve, reject) => {
        const send = (retried) => {
          const xhr = new XMLHttpRequest();
          xhr.open("POST", "/api/v1/media");
          xhr.setRequestHeader("Accept", "application/json");
          if (api.token()) xhr.setRequestHeader("Authorization", `Bearer ${api.token()}`);
          xhr.upload.onprogress = (e) => {
            if (!e.lengthComputable) return;
            bar.value = Math.round((e.loaded / e.total) * 100);
            say(t("library.sending", { percent: bar.value }), "sending");
          };
          xhr.onload = async () => {
            if (xhr.status === 401 && !retried && (await api.refresh())) return send(true);
            let body = null;
            try {
              body = JSON.parse(xhr.responseText);
            } catch {
              body = null;
            }
            if (xhr.status >= 200 && xhr.status < 300 && body) {
              resolve({ mediaId: body.media.id, jobId: body.job ? body.job.id : null });
            } else {
              reject({ status: xhr.status, problem: body || { title: xhr.statusText } });
            }
          };
          xhr.onerror = () => reject(new Error(t("library.connectionLost")));
          const data = new FormData();
          data.append("file", file, file.name);
          data.append("kind", kind);
          xhr.send(data);
        };
        send(false);
      });
    }

    async function followJob(jobId, bar, say) {
      for (;;) {
        let job;
        try {
          job = await api.get(`/api/v1/jobs/${jobId}`);
        } catch (e) {
          say(ctx.problemText(e), "failed");
          return;
        }
        bar.value = Math.round((job.progress || 0) * 100);
        if (job.status === "done") {
          bar.value = 100;
          say(t("library.analysed"), "done");
          return;
        }
        if (job.status === "failed") {
          say(t("library.analysisFailed", { reason: job.error || "" }), "failed");
          return;
        }
        say(t("library.analysing", { percent: bar.value }), "analysing");
        await new Promise((r) => setTimeout(r, POLL_MS)); // goes on while the page is away
      }
    }

    // --- search and list -------------------------------------------------------------------
    const q = h("input", { id: "lib-q", type: "search", autocomplete: "off" });
    const kindFilter = h("select", { id: "lib-kind" }, h("option", { value: "" }, t("library.any")),
      KINDS.map((k) => h("option", { value: k }, name(kindNames, k))));
    const langFilter = h("select", { id: "lib-lang" }, h("option", { value: "" }, t("library.any")),
      LANGS.map((l) => h("option", { value: l }, name(langNames, l))));
    const missingFilter = h("input", { id: "lib-missing", type: "checkbox" });
    const filters = h(
      "form",
      { class: "row card", role: "search", onsubmit: (e) => { e.preventDefault(); search(); } },
      h("div", {}, h("label", { for: "lib-q" }, t("library.search")), q),
      h("div", {}, h("label", { for: "lib-kind" }, t("library.kind")), kindFilter),
      h("div", {}, h("label", { for: "lib-lang" }, t("library.language")), langFilter),
      h("label", { class: "inline", for: "lib-missing" }, missingFilter, t("library.missingOnly")),
      h("button", { type: "submit", class: "primary" }, t("library.find")),
    );
    for (const el of [kindFilter, langFilter, missingFilter]) el.addEventListener("change", () => search());
    const list = h("ul", { class: "media-list", id: "media-list", "aria-label": t("library.items") });
    const listStatus = h("p", { class: "muted", role: "status" });
    const more = h("button", { type: "button", class: "secondary", hidden: true, onclick: () => loadMore() }, t("library.more"));
    const editor = h("div", { id: "media-editor", "aria-live": "polite" });
    let next = null;
    let selected = null;

    function missing(m) {
      return LANGS.some((l) => !(m.titles && m.titles[l])) || !m.artist && m.kind === "music";
    }

    function keep(m) {
      if (langFilter.value && !(m.languages || []).includes(langFilter.value) && !(m.titles || {})[langFilter.value]) return false;
      return !missingFilter.checked || missing(m);
    }

    async function search() {
      const params = new URLSearchParams({ limit: "50" });
      if (q.value.trim()) params.set("q", q.value.trim());
      if (kindFilter.value) params.set("kind", kindFilter.value);
      replace(list);
      await loadPage(`/api/v1/media?${params}`);
    }

    async function loadMore() {
      if (next) await loadPage(next);
    }

    async function loadPage(url) {
      listStatus.textContent = t("app.loading");
      listStatus.classList.add("loading");
      try {
        const page = await api.get(url);
        if (disposed) return;
        next = page.next;
        more.hidden = !next;
        for (const m of page.items.filter(keep)) list.appendChild(row(m));
        listStatus.textContent = list.children.length ? "" : t("library.nothing");
        listStatus.classList.remove("loading");
      } catch (e) {
        listStatus.textContent = ctx.problemText(e);
        listStatus.classList.remove("loading");
      }
    }

    function row(m) {
      const title = m.title || m.original_name;
      return h("li", {},
        h("button", { type: "button", "aria-pressed": String(selected === m.id), dataset: { id: String(m.id) }, onclick: () => open(m.id) },
          h("span", {}, h("strong", {}, title), " ", h("span", { class: "muted" }, m.artist || "")),
          h("span", {},
            h("span", { class: "muted" }, `${name(kindNames, m.kind)} · ${formatDuration(m.duration_ms)} `),
            h("span", { class: `badge ${m.status}` }, name(statusNames, m.status)),
            missing(m) ? h("span", { class: "badge pending" }, t("library.incomplete")) : null)));
    }

    // --- one item ----------------------------------------------------------------------------
    async function open(id) {
      selected = id;
      for (const b of list.querySelectorAll("button[aria-pressed]")) b.setAttribute("aria-pressed", String(b.dataset.id === String(id)));
      replace(editor, h("p", { role: "status" }, t("app.loading")));
      let got;
      try {
        got = await api.getWithEtag(`/api/v1/media/${id}`);
      } catch (e) {
        replace(editor, h("p", { class: "problem", role: "alert" }, ctx.problemText(e)));
        return;
      }
      if (!disposed && selected === id) drawEditor(got.data, got.etag);
    }

    function drawEditor(m, etag) {
      const field = (idName, label, value, attrs = {}) => [
        h("label", { for: idName }, label),
        h("input", { id: idName, value: value ?? "", disabled: !canEdit, ...attrs }),
      ];
      const titles = h("fieldset", {}, h("legend", {}, t("library.titles")),
        LANGS.map((l) => field(`title-${l}`, name(langNames, l), (m.titles || {})[l] ?? (l === "az" ? m.title : ""), { lang: l })));
      const descriptions = h("fieldset", {}, h("legend", {}, t("library.descriptions")),
        LANGS.map((l) => [
          h("label", { for: `description-${l}` }, name(langNames, l)),
          h("textarea", { id: `description-${l}`, lang: l, rows: 3, maxlength: 5000, disabled: !canEdit }, (m.descriptions || {})[l] || ""),
        ]));
      const tagText = Object.entries(m.tags || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
      const tags = [
        h("label", { for: "tags" }, t("library.tags")),
        h("p", { class: "muted", id: "tags-hint" }, t("library.tagsHint")),
        h("textarea", { id: "tags", rows: 3, "aria-describedby": "tags-hint", disabled: !canEdit }, tagText),
      ];
      const cueIn = h("input", { id: "cue-in", type: "number", min: 0, step: 0.1, value: m.cue_in_ms != null ? m.cue_in_ms / 1000 : "", disabled: !canEdit });
      const cueOut = h("input", { id: "cue-out", type: "number", min: 0, step: 0.1, value: m.cue_out_ms != null ? m.cue_out_ms / 1000 : "", disabled: !canEdit });
      const problem = h("p", { class: "problem", role: "alert", id: "editor-problem" });
      const wave = waveform(m, cueIn, cueOut);

      async function save(e) {
        e.preventDefault();
        const body = {
          titles: Object.fromEntries(LANGS.map((l) => [l, form.querySelector(`#title-${l}`).value.trim()]).filter(([, v]) => v)),
          artist: form.querySelector("#artist").value.trim(),
          album: form.querySelector("#album").value.trim(),
          cue_in_ms: cueIn.value === "" ? null : Math.round(Number(cueIn.value) * 1000),
          cue_out_ms: cueOut.value === "" ? null : Math.round(Number(cueOut.value) * 1000),
        };
        if (body.titles.az) body.title = body.titles.az;
        body.descriptions = Object.fromEntries(LANGS.map((l) => [l, form.querySelector(`#description-${l}`).value.trim()]).filter(([, v]) => v));
        // Tags go only when edited: tags read from a file (lyrics, say) may exceed what an edit may set.
        const tagLines = form.querySelector("#tags").value;
        if (tagLines.trim() !== tagText.trim()) body.tags = {};
        for (const line of body.tags ? tagLines.split("\n").map((x) => x.trim()).filter(Boolean) : []) {
          const at = line.indexOf(":");
          if (at < 1) {
            problem.textContent = t("library.tagsBadLine", { line });
            form.querySelector("#tags").focus();
            return;
          }
          body.tags[line.slice(0, at).trim()] = line.slice(at + 1).trim();
        }
        try {
          const r = await api.patchIfMatch(`/api/v1/media/${m.id}`, body, etag);
          ctx.toast(t("library.saved"), "ok");
          drawEditor(r.data, r.etag);
          const li = list.querySelector(`button[data-id="${m.id}"]`);
          if (li) li.parentElement.replaceWith(row(r.data));
        } catch (err) {
          problem.textContent = err.status === 412 ? t("library.changedMeanwhile") : ctx.problemText(err);
        }
      }

      async function remove() {
        if (!(await ctx.confirm(t("library.confirmDelete", { title: m.title || m.original_name })))) return;
        try {
          await api.del(`/api/v1/media/${m.id}`);
          ctx.toast(t("library.deleted"), "ok");
          replace(editor);
          search();
        } catch (err) {
          if (err.status === 409) problem.textContent = t("library.inUse", { reason: ctx.problemText(err) });
          else if (err.status === 404 || err.status === 405) problem.textContent = t("app.notAvailable");
          else problem.textContent = ctx.problemText(err);
        }
      }

      const form = h("form", { class: "card", onsubmit: save, "aria-labelledby": "editor-title" },
        h("h2", { id: "editor-title" }, m.title || m.original_name),
        h("p", { class: "muted" },
          `${name(kindNames, m.kind)} · ${formatDuration(m.duration_ms)} · ${m.original_name} · `,
          t("library.added", { when: formatTime(m.created_at, ctx.zone, ctx.lang, { date: true }) })),
        titles,
        field("artist", t("library.artist"), m.artist),
        field("album", t("library.album"), m.album),
        descriptions,
        tags,
        h("fieldset", {}, h("legend", {}, t("library.cues")),
          wave,
          h("div", { class: "row" },
            h("div", {}, h("label", { for: "cue-in" }, t("library.cueIn")), cueIn),
            h("div", {}, h("label", { for: "cue-out" }, t("library.cueOut")), cueOut),
            preview(m, cueIn, cueOut))),
        problem,
        h("div", { class: "actions" },
          canEdit ? h("button", { type: "submit", class: "primary", id: "save-media" }, t("library.save")) : null,
          canDelete ? h("button", { type: "button", class: "danger", id: "delete-media", onclick: remove }, t("library.delete")) : null));
      replace(editor, form, canEdit ? attachments(m) : null);
    }

    function preview(m, cueIn, cueOut) {
      if (!m.original_url) return null;
      const audio = h("audio", { preload: "none", src: m.original_url });
      let stopAt = null;
      audio.addEventListener("timeupdate", () => {
        if (stopAt !== null && audio.currentTime >= stopAt) audio.pause();
      });
      return h("div", {}, audio,
        h("button", {
          type: "button",
          id: "preview",
          onclick: () => {
            if (!audio.paused) {
              audio.pause();
              return;
            }
            audio.currentTime = Number(cueIn.value || 0);
            stopAt = cueOut.value === "" ? null : Number(cueOut.value);
            audio.play().catch(() => ctx.toast(t("library.previewFailed"), "error"));
          },
        }, t("library.preview")));
    }

    // The waveform (GET …/peaks), cue in and out drawn over it; a click or tap moves the
    // nearer cue there (the number fields are the keyboard's way).
    function waveform(m, cueIn, cueOut) {
      const canvas = h("canvas", { class: "waveform", width: 800, height: 120, role: "img", "aria-label": t("library.waveform") });
      const note = h("p", { class: "muted" });
      let peaks = null;
      const draw = () => {
        const g = canvas.getContext("2d");
        const w = canvas.width;
        const mid = canvas.height / 2;
        g.clearRect(0, 0, w, canvas.height);
        if (!peaks || !peaks.peaks.length) return;
        const per = peaks.peaks.length / w;
        g.fillStyle = "#0b5cad";
        for (let x = 0; x < w; x += 1) {
          const slice = peaks.peaks.slice(Math.floor(x * per), Math.max(Math.floor((x + 1) * per), Math.floor(x * per) + 1));
          const lo = Math.min(...slice.map((p) => p[0]));
          const hi = Math.max(...slice.map((p) => p[1]));
          g.fillRect(x, mid - hi * mid, 1, Math.max(1, (hi - lo) * mid));
        }
        const at = (s) => (s * 1000 / peaks.duration_ms) * w;
        g.fillStyle = "#a4161a";
        if (cueIn.value !== "") g.fillRect(at(Number(cueIn.value)), 0, 2, canvas.height);
        if (cueOut.value !== "") g.fillRect(at(Number(cueOut.value)) - 2, 0, 2, canvas.height);
      };
      canvas.addEventListener("pointerdown", (e) => {
        if (!peaks || !canEdit) return;
        const rect = canvas.getBoundingClientRect();
        const s = ((e.clientX - rect.left) / rect.width) * peaks.duration_ms / 1000;
        const toIn = Math.abs(s - Number(cueIn.value || 0)) <= Math.abs(s - Number(cueOut.value || peaks.duration_ms / 1000));
        (toIn ? cueIn : cueOut).value = s.toFixed(1);
        draw();
      });
      cueIn.addEventListener("input", draw);
      cueOut.addEventListener("input", draw);
      api.get(`/api/v1/media/${m.id}/peaks`).then((p) => {
        peaks = p;
        draw();
      }).catch((e) => {
        canvas.hidden = true;
        note.textContent = e.status === 404 ? t("library.noWaveform") : ctx.problemText(e);
      });
      return h("div", {}, canvas, note);
    }

    function attachments(m) {
      const subLang = h("select", { id: "sub-lang" }, LANGS.map((l) => h("option", { value: l }, name(langNames, l))));
      const subFile = h("input", { id: "sub-file", type: "file", accept: ".vtt,text/vtt" });
      const artFile = h("input", { id: "art-file", type: "file", accept: "image/jpeg,image/png,image/webp" });
      const status = h("p", { role: "status", class: "muted" });
      const send = async (path, file, type, done) => {
        if (!file) return;
        try {
          await api.put(path, file, { headers: { "Content-Type": type || "application/octet-stream" } });
          status.textContent = done;
        } catch (e) {
          status.textContent = ctx.problemText(e);
        }
      };
      return h("div", { class: "card" },
        h("h2", {}, t("library.attachments")),
        (m.subtitles || []).length ? h("p", {}, t("library.hasSubtitles", { langs: m.subtitles.map((s) => s.lang || s).join(", ") })) : null,
        h("div", { class: "row" },
          h("div", {}, h("label", { for: "sub-lang" }, t("library.subtitleLang")), subLang),
          h("div", {}, h("label", { for: "sub-file" }, t("library.subtitleFile")), subFile),
          h("button", { type: "button", onclick: () => send(`/api/v1/media/${m.id}/subtitles/${subLang.value}`, subFile.files[0], "text/vtt", t("library.subtitleSaved")) }, t("library.upload"))),
        h("div", { class: "row" },
          h("div", {}, h("label", { for: "art-file" }, t("library.artwork")), artFile),
          h("button", { type: "button", onclick: () => send(`/api/v1/media/${m.id}/artwork`, artFile.files[0], artFile.files[0] && artFile.files[0].type, t("library.artworkSaved")) }, t("library.upload"))),
        status);
    }

    showFinished = () => search();
    replace(root,
      canUpload ? h("section", { "aria-labelledby": "upload-title" }, h("h2", { id: "upload-title" }, t("library.upload")), drop, progressList) : null,
      filters,
      h("div", { class: "split" },
        h("div", {}, listStatus, list, more),
        editor));
    search();

    return () => {
      disposed = true;
      showFinished = null;
    };
  },
};
