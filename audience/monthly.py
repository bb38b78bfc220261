"""The monthly audience report: one self-contained HTML page (inline SVG charts, tables, a
print style) an editor can send to the committee or print to PDF from a browser."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from audience.pictures import Chart, draw_countries, draw_hours, draw_programmes
from audience.reports import Figures, Grouping, Query, Report, Reports, period

STYLE = """
body{font-family:system-ui,sans-serif;color:#1f2937;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem}
.lead{color:#4b5563}
.figures{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.8rem}
.figures div{border:1px solid #d1d5db;border-radius:.4rem;padding:.6rem}
.figures b{display:block;font-size:1.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid #e5e7eb;padding:.25rem .5rem;text-align:right}
th:first-child,td:first-child{text-align:left}
svg{max-width:100%;height:auto}
.note{font-size:.85rem;color:#4b5563}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}
table,svg{break-inside:avoid}}
"""
TABLE_ROWS = 20


@dataclass(frozen=True, slots=True)
class Month:
    first: date  # the month's first day

    @classmethod
    def parse(cls, text: str) -> Month:
        """YYYY-MM; ValueError otherwise."""
        year, _, month = text.partition("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(f"{text!r} is not a month as YYYY-MM")
        return cls(date(int(year), int(month), 1))

    def span(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        nxt = (self.first + timedelta(days=32)).replace(day=1)
        return datetime.combine(self.first, time(), tz), datetime.combine(nxt, time(), tz)


def duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def headline(t: Figures) -> str:
    cells = [
        ("Sessions", f"{t.sessions:,}"),
        ("Unique listeners", f"{t.uniques:,}"),
        ("Listening hours", f"{t.hours:,.1f}"),
        ("Average session", duration(t.average_session_s)),
        ("Average at once", f"{t.average_concurrent:,.2f}"),
        ("Peak at once", "—" if t.peak_concurrent is None else f"{t.peak_concurrent:,}"),
    ]
    inner = "".join(f"<div>{escape(k)}<b>{escape(v)}</b></div>" for k, v in cells)
    return f"<section class='figures'>{inner}</section>"


def table(title: str, report: Report, first: str, downloads: bool = False) -> str:
    head = [first, "Sessions", "Unique listeners", "Listening hours", "Average session"]
    if downloads:
        head += ["Downloads, first 7 days", "first 30 days"]
    rows = []
    for f in report.rows[:TABLE_ROWS]:
        cells = [
            f.label or "—",
            f"{f.sessions:,}",
            f"{f.uniques:,}",
            f"{f.hours:,.1f}",
            duration(f.average_session_s),
        ]
        if downloads:
            cells += [str(f.downloads_7d or 0), str(f.downloads_30d or 0)]
        rows.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    more = len(report.rows) - TABLE_ROWS
    note = f"<p class='note'>and {more} more (the CSV has them all)</p>" if more > 0 else ""
    ths = "".join(f"<th scope='col'>{escape(h)}</th>" for h in head)
    return (
        f"<h2>{escape(title)}</h2><table><thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{note}"
    )


def render(
    station: str, month: Month, tz: ZoneInfo, reports: dict[Grouping, Report], total: Figures
) -> str:
    """The page, from the month's reports by grouping."""
    name = month.first.strftime("%B %Y")
    hours = reports[Grouping.HOUR]
    parts: Sequence[str] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(station)}: audience, {escape(name)}</title>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<style>{STYLE}</style></head><body><main>",
        f"<h1>{escape(station)}: audience in {escape(name)}</h1>",
        f"<p class='lead'>Every channel and surface; days and hours in {escape(str(tz))}. "
        "Unique listeners are counted per day and added up: listeners are not followed from "
        "one day to the next (their anonymous ids change every day).</p>",
        headline(total),
        "<h2>When</h2>",
        draw_hours(Chart.DAY, hours),
        draw_hours(Chart.WEEK, hours),
        "<h2>Where</h2>",
        draw_countries(reports[Grouping.COUNTRY]),
        table("Countries", reports[Grouping.COUNTRY], "Country"),
        "<h2>What</h2>",
        draw_programmes(reports[Grouping.PROGRAMME]),
        table("Programmes", reports[Grouping.PROGRAMME], "Programme"),
        table("Episodes", reports[Grouping.EPISODE], "Episode", downloads=True),
        table("Channels", reports[Grouping.CHANNEL], "Channel"),
        table("How: surfaces", reports[Grouping.SURFACE], "Surface"),
        table("How: players", reports[Grouping.PLAYER], "Player"),
        table("How: devices", reports[Grouping.DEVICE], "Device"),
        table("Days", reports[Grouping.DAY], "Day"),
        "</main></body></html>",
    ]
    return "".join(parts)


GROUPINGS = (
    Grouping.HOUR,
    Grouping.DAY,
    Grouping.COUNTRY,
    Grouping.PROGRAMME,
    Grouping.EPISODE,
    Grouping.CHANNEL,
    Grouping.SURFACE,
    Grouping.PLAYER,
    Grouping.DEVICE,
)


def monthly_page(reports: Reports, station: str, month: Month, tz: ZoneInfo, lang: str) -> str:
    start, end = period(*month.span(tz))
    q = Query(start, end, tz=tz)
    by = {g: reports.report(replace(q, group_by=g), lang=lang) for g in GROUPINGS}
    for f in by[Grouping.DAY].rows:
        f.label = f.key[:10]
    return render(station, month, tz, by, by[Grouping.DAY].total)
