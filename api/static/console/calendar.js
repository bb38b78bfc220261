// The week calendar of the schedule page: pure time arithmetic in a channel's zone, the
// expansion of an entry's rule into occurrences, and a small DOM grid (7 day columns, or one
// on a phone; hour rows; blocks absolutely positioned) with pointer dragging snapped to five
// minutes. No calendar library: this is all the schedule needs, and it reads in one sitting.
//
// Wall-clock times (what an editor reads on the channel's clock) are kept as "wall ms": the
// epoch milliseconds of the same fields read as UTC, so adding minutes or days is plain
// arithmetic and getUTC* gives the fields back. Instants are ordinary epoch milliseconds.

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const SNAP_MIN = 5;
const WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];

const partsFormats = new Map();
function partsFormat(zone) {
  let f = partsFormats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    });
    partsFormats.set(zone, f);
  }
  return f;
}

/** The wall ms in `zone` of the instant `ms`. */
export function wallOf(zone, ms) {
  const p = {};
  for (const { type, value } of partsFormat(zone).formatToParts(new Date(ms))) p[type] = +value;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

/** The instant at which `zone`'s clock shows `wall`, as the server places it
 * (schedules/recurrence.py local_to_ms): a time shown twice (autumn) is the first of the
 * two; a time skipped by a jump (spring) is read with the offset from before the jump. */
export function instantOf(zone, wall) {
  const offsetAt = (ms) => wallOf(zone, ms) - ms;
  const before = offsetAt(wall - DAY / 2);
  const after = offsetAt(wall + DAY / 2);
  const fits = [wall - before, wall - after].filter((ms) => wallOf(zone, ms) === wall);
  return fits.length ? Math.min(...fits) : wall - after;
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** "2026-12-07T20:00:00": how the API writes local times (start_local, exdates). */
export function wallIso(wall) {
  const d = new Date(wall);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Wall ms of a local ISO string (an offset, if any, is ignored: the fields are read). */
export function parseWall(text) {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(text || "");
  if (!m) return NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0), +(m[6] || 0));
}

export const dateOf = (wall) => wallIso(wall).slice(0, 10);
export const timeOf = (wall) => wallIso(wall).slice(11, 16);
export const midnight = (wall) => wall - (((wall % DAY) + DAY) % DAY);
/** "HH:MM" of an end: the midnight that ends a day is 24:00, not 00:00. */
export const endTimeOf = (start, end) =>
  (end > start && end === midnight(start) + DAY ? "24:00" : timeOf(end));
/** Monday 00:00 of the week that holds `wall`. */
export function weekStart(wall) {
  const day = midnight(wall);
  return day - ((new Date(day).getUTCDay() + 6) % 7) * DAY;
}
export const weekdayOf = (wall) => WEEKDAYS[(new Date(wall).getUTCDay() + 6) % 7];
export const snap = (minutes, step = SNAP_MIN) => Math.round(minutes / step) * step;

/** An RRULE as {FREQ: "WEEKLY", BYDAY: "MO,WE", ...}. */
export function parseRule(rule) {
  const out = {};
  for (const part of (rule || "").trim().toUpperCase().replace(/^RRULE:/, "").split(";")) {
    const [k, v] = part.split("=");
    if (k && v !== undefined) out[k] = v;
  }
  return out;
}

export function formatRule(parts) {
  return Object.entries(parts).filter(([, v]) => v !== undefined && v !== "")
    .map(([k, v]) => `${k}=${v}`).join(";");
}

/** The rule moved by `days` days: its weekdays turn with it (a Monday show moved a day
 * later is a Tuesday show). */
export function shiftRule(rule, days) {
  const parts = parseRule(rule);
  const turn = ((days % 7) + 7) % 7;
  if (parts.BYDAY && turn) {
    parts.BYDAY = parts.BYDAY.split(",").map((d) => {
      const i = WEEKDAYS.indexOf(d.slice(-2));
      return i < 0 ? d : d.slice(0, -2) + WEEKDAYS[(i + turn) % 7];
    }).join(",");
  }
  return formatRule(parts);
}

function untilWall(text, zone) {
  const wall = parseWall(text.replace(/^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2}))?Z?$/,
    (_, y, mo, d, hh = "23", mi = "59", ss = "59") => `${y}-${mo}-${d}T${hh}:${mi}:${ss}`));
  return text.endsWith("Z") ? wallOf(zone, wall) : wall;
}

/** Wall starts of an entry's occurrences in [from, to) (wall ms in the channel's zone), or
 * null when its rule is one this calendar does not expand (the guide still shows what airs,
 * and the entry is listed). One-offs, DAILY and WEEKLY (BYDAY, INTERVAL, COUNT, UNTIL). */
export function occurrences(entry, zone, from, to) {
  const start = parseWall(entry.start_local);
  const skipped = new Set((entry.exdates || []).map((x) => parseWall(x)));
  const effFrom = entry.effective_from ? Date.parse(entry.effective_from) : -Infinity;
  const effUntil = entry.effective_until ? Date.parse(entry.effective_until) : Infinity;
  const keep = (w) => {
    if (w < from || w >= to || skipped.has(w)) return false;
    const at = instantOf(zone, w);
    return at >= effFrom && at < effUntil;
  };
  if (!entry.rrule) return keep(start) ? [start] : [];
  const r = parseRule(entry.rrule);
  const known = new Set(["FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL", "WKST"]);
  if (!["DAILY", "WEEKLY"].includes(r.FREQ) || Object.keys(r).some((k) => !known.has(k))) {
    return null;
  }
  const interval = Math.max(1, +(r.INTERVAL || 1));
  const days = r.BYDAY ? r.BYDAY.split(",") : [weekdayOf(start)];
  if (days.some((d) => !WEEKDAYS.includes(d))) return null; // "1MO" and the like
  const until = r.UNTIL ? untilWall(r.UNTIL, zone) : Infinity;
  const count = r.COUNT ? +r.COUNT : Infinity;
  const clock = start - midnight(start);
  const out = [];
  let n = 0;
  const period = r.FREQ === "DAILY" ? DAY : 7 * DAY;
  const origin = r.FREQ === "DAILY" ? midnight(start) : weekStart(start);
  const limit = Math.min(to, until + 1);
  // Without a COUNT, jump to the period before `from` (the rule repeats exactly).
  let first = origin;
  if (count === Infinity && from > origin) {
    first = origin + Math.max(0, Math.floor((from - origin) / (period * interval)) - 1) *
      period * interval;
  }
  for (let p = first; p < limit; p += period * interval) {
    const span = r.FREQ === "DAILY" ? [p] : [0, 1, 2, 3, 4, 5, 6].map((i) => p + i * DAY);
    for (const day of span) {
      const w = day + clock;
      if (w < start || w > until || w >= limit) continue;
      if (r.FREQ === "DAILY" && r.BYDAY && !days.includes(weekdayOf(w))) continue;
      if (r.FREQ === "WEEKLY" && !days.includes(weekdayOf(w))) continue;
      n += 1;
      if (n > count) return out;
      if (keep(w)) out.push(w);
    }
  }
  return out;
}

/** Side-by-side lanes for overlapping blocks: each gets {lane, lanes}. */
export function lanes(blocks) {
  const sorted = [...blocks].sort((a, b) => a.start - b.start || b.end - a.end);
  let group = [];
  let groupEnd = -Infinity;
  const flush = () => {
    const n = Math.max(...group.map((b) => b.lane)) + 1;
    for (const b of group) b.lanes = n;
    group = [];
  };
  for (const b of sorted) {
    if (group.length && b.start >= groupEnd) flush();
    const used = new Set(group.filter((g) => g.end > b.start).map((g) => g.lane));
    let lane = 0;
    while (used.has(lane)) lane += 1;
    b.lane = lane;
    group.push(b);
    groupEnd = Math.max(groupEnd, b.end);
  }
  if (group.length) flush();
  return sorted;
}

// --- the grid -------------------------------------------------------------------------

const HOUR_PX = 48;
const PX_PER_MIN = HOUR_PX / 60;
const AIRED_PCT = 28; // the left strip of a day shows what airs; entries take the rest

/** Draws the grid into `root` and returns {dispose}. opts:
 *  h, days (wall ms of each column's midnight), zone (the channel's), editorZone,
 *  dayLabel(wall), hourLabel(wall, zone), frozenUntil (wall ms), now (wall ms),
 *  entries [{key, entry, start, end, title, details, kind, recurring, frozen}] (wall ms),
 *  aired [{start, end, title, label}] (the guide), asrun [{start, end, title, label, outcome}],
 *  onOpen(entry), onMove(entry, newStart, newEnd), onCreate(start, end), labels {...}. */
export function drawCalendar(root, opts) {
  const { h } = opts;
  const first = opts.days[0];
  const last = opts.days[opts.days.length - 1] + DAY;
  const hours = [];
  for (let i = 0; i < 24; i += 1) {
    const wall = first + i * HOUR;
    hours.push(styled(h("div", { class: "cal-hour" },
      h("span", { class: "cal-hour-channel" }, opts.hourLabel(wall, null)),
      opts.editorZone && opts.editorZone !== opts.zone
        ? h("span", { class: "cal-hour-editor" },
          opts.hourLabel(instantOf(opts.zone, wall), opts.editorZone))
        : null), `height:${HOUR_PX}px`));
  }
  const axis = h("div", { class: "cal-axis", "aria-hidden": "true" }, ...hours);
  const columns = opts.days.map((day) => column(opts, day));
  const heads = opts.days.map((day) => h("div", {
    class: "cal-dayhead" + (midnight(opts.now) === day ? " cal-today" : ""),
  }, opts.dayLabel(day)));
  const grid = styled(h("div", { class: "cal-grid" },
    h("div", { class: "cal-corner", "aria-hidden": "true" }), ...heads, axis, ...columns),
  `--cols:${opts.days.length}`);
  const scroller = h("div", { class: "cal-scroll" }, grid);
  // Drawn again (the guide came, an entry moved): the same scroll and the same focus.
  const old = root.querySelector(".cal-scroll");
  const focused = old && old.contains(document.activeElement) ? document.activeElement : null;
  const refocus = focused && focused.dataset.entry
    ? `[data-entry="${focused.dataset.entry}"][data-start="${focused.dataset.start}"]` : null;
  const keptTop = old && old.dataset.days === dateOf(first) ? old.scrollTop : null;
  scroller.dataset.days = dateOf(first);
  root.replaceChildren(scroller);
  if (keptTop !== null) {
    scroller.scrollTop = keptTop;
  } else {
    // Open on the morning, or on now when today is shown.
    const focusWall = opts.now >= first && opts.now < last ? opts.now - HOUR : first + 7 * HOUR;
    scroller.scrollTop = Math.max(0, ((focusWall - midnight(focusWall)) / MINUTE) * PX_PER_MIN);
  }
  if (refocus) {
    const again = scroller.querySelector(refocus);
    if (again) again.focus();
  }
  return { dispose() { root.replaceChildren(); } };
}

/** The element with its inline style set (h takes a style object; these are computed). */
function styled(el, css) {
  el.style.cssText = css;
  return el;
}

const top = (wall, day) => ((wall - day) / MINUTE) * PX_PER_MIN;

const span = (b, day, least) =>
  `top:${top(b.start, day)}px;height:${Math.max(least, top(b.end, day) - top(b.start, day))}px`;

function clipped(list, day) {
  return list.filter((b) => b.end > day && b.start < day + DAY)
    .map((b) => ({ ...b, start: Math.max(b.start, day), end: Math.min(b.end, day + DAY),
      from: b.start, to: b.end }));
}

function column(opts, day) {
  const { h } = opts;
  const col = h("div", { class: "cal-col", "data-day": dateOf(day), role: "group",
    "aria-label": opts.dayLabel(day) });
  col.style.height = `${24 * HOUR_PX}px`;
  if (opts.frozenUntil > day) {
    const until = Math.min(opts.frozenUntil, day + DAY);
    col.append(styled(h("div", { class: "cal-frozen", "aria-hidden": "true",
      title: opts.labels.frozen }), `top:0;height:${top(until, day)}px`));
  }
  for (const b of clipped(opts.aired, day)) {
    col.append(styled(h("div", {
      class: `cal-aired cal-kind-${b.kind || "other"}`, title: b.label, "aria-hidden": "true",
    }, h("span", {}, b.title)), span(b, day, 2)));
  }
  for (const b of clipped(opts.asrun, day)) {
    col.append(styled(h("div", {
      class: `cal-asrun cal-outcome-${b.outcome || "aired"}`, title: b.label, "aria-hidden": "true",
    }), span(b, day, 2)));
  }
  for (const b of lanes(clipped(opts.entries, day))) {
    // Its name is what it shows (time, title) and then, for a screen reader, the details.
    const btn = h("button", {
      type: "button",
      class: `cal-entry cal-kind-${b.kind}` + (b.frozen ? " cal-entry-frozen" : "") +
        (b.recurring ? " cal-entry-recurring" : ""),
      "data-entry": String(b.entry.id),
      "data-start": wallIso(b.from),
    }, h("span", { class: "cal-entry-time" }, `${timeOf(b.from)}–${endTimeOf(b.from, b.to)}`), " ",
    h("span", { class: "cal-entry-title" }, b.title),
    h("span", { class: "cal-sr" }, `, ${b.details}`));
    styled(btn, span(b, day, 12) +
      `;left:calc(${AIRED_PCT + ((100 - AIRED_PCT) * b.lane) / b.lanes}% + 2px);` +
      `width:calc(${(100 - AIRED_PCT) / b.lanes}% - 4px)`);
    if (!b.frozen) {
      const grip = h("span", { class: "cal-grip", "aria-hidden": "true" });
      btn.append(grip);
      dragEntry(opts, btn, grip, b);
    }
    btn.addEventListener("click", (ev) => {
      if (btn.dataset.dragged) { delete btn.dataset.dragged; ev.preventDefault(); return; }
      opts.onOpen(b);
    });
    col.append(btn);
  }
  dragCreate(opts, col, day);
  return col;
}

/** Minutes moved by a pointer, snapped. */
const snapped = (dy) => snap(dy / PX_PER_MIN);

function dragEntry(opts, btn, grip, b) {
  btn.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    const resizing = ev.target === grip;
    const x0 = ev.clientX;
    const y0 = ev.clientY;
    const colWidth = btn.parentElement.getBoundingClientRect().width;
    let moved = false;
    let dMin = 0;
    let dDays = 0;
    btn.setPointerCapture(ev.pointerId);
    const move = (e) => {
      dMin = snapped(e.clientY - y0);
      dDays = resizing ? 0 : Math.round((e.clientX - x0) / colWidth);
      if (!moved && Math.abs(e.clientY - y0) < 4 && Math.abs(e.clientX - x0) < 4) return;
      moved = true;
      btn.classList.add("cal-dragging");
      if (resizing) {
        btn.style.height = `${Math.max(PX_PER_MIN * SNAP_MIN, top(b.end, 0) - top(b.start, 0) + dMin * PX_PER_MIN)}px`;
      } else {
        btn.style.transform = `translate(${dDays * colWidth}px, ${dMin * PX_PER_MIN}px)`;
      }
    };
    const up = () => {
      btn.removeEventListener("pointermove", move);
      btn.removeEventListener("pointerup", up);
      btn.removeEventListener("pointercancel", cancel);
      btn.classList.remove("cal-dragging");
      if (!moved || (dMin === 0 && dDays === 0)) { btn.style.transform = ""; return; }
      btn.dataset.dragged = "1";
      const shift = dDays * DAY + dMin * MINUTE;
      if (resizing) opts.onMove(b, b.from, Math.max(b.from + SNAP_MIN * MINUTE, b.to + shift));
      else opts.onMove(b, b.from + shift, b.to + shift);
    };
    const cancel = () => { moved = false; up(); };
    btn.addEventListener("pointermove", move);
    btn.addEventListener("pointerup", up);
    btn.addEventListener("pointercancel", cancel);
  });
}

function dragCreate(opts, col, day) {
  col.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0 || ev.target !== col) return;
    const box = col.getBoundingClientRect();
    const at = (y) => day + snap((y - box.top) / PX_PER_MIN) * MINUTE;
    const start = at(ev.clientY);
    if (start < opts.frozenUntil) return;
    const ghost = opts.h("div", { class: "cal-ghost", "aria-hidden": "true" });
    let end = start + 30 * MINUTE;
    const show = () => {
      ghost.style.top = `${top(start, day)}px`;
      ghost.style.height = `${top(end, day) - top(start, day)}px`;
    };
    show();
    col.append(ghost);
    col.setPointerCapture(ev.pointerId);
    const move = (e) => { end = Math.max(start + SNAP_MIN * MINUTE, at(e.clientY)); show(); };
    const up = () => {
      col.removeEventListener("pointermove", move);
      col.removeEventListener("pointerup", up);
      ghost.remove();
      opts.onCreate(start, end);
    };
    col.addEventListener("pointermove", move);
    col.addEventListener("pointerup", up);
  });
}
