"""The charts of an audience report (audience/charts.py draws them): listeners over a day,
a week by hour, countries on a world map, and the top programmes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from audience import charts
from audience.reports import Grouping, Query, Report, Reports

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TOP = 10


class Chart(StrEnum):
    DAY = "day"  # average concurrent listeners by hour of the day
    WEEK = "week"  # the same by day of the week and hour, as a heat map
    COUNTRIES = "countries"  # listening hours by country, on a world map
    PROGRAMMES = "programmes"  # the programmes with the most listening hours


def by_hour_of_week(report: Report) -> list[list[float]]:
    """Average concurrent listeners per day of the week (Monday first) and local hour, over
    the hour rows of `report`."""
    sums = [[0.0] * 24 for _ in range(7)]
    counts = [[0] * 24 for _ in range(7)]
    for f in report.rows:
        local = datetime.fromisoformat(f.key)
        sums[local.weekday()][local.hour] += f.average_concurrent
        counts[local.weekday()][local.hour] += 1
    return [
        [s / n if n else 0.0 for s, n in zip(a, b, strict=True)]
        for a, b in zip(sums, counts, strict=True)
    ]


def by_hour_of_day(report: Report) -> list[float]:
    """Average concurrent listeners per local hour of the day."""
    counts = [0] * 24
    sums = [0.0] * 24
    for f in report.rows:
        local = datetime.fromisoformat(f.key)
        sums[local.hour] += f.average_concurrent
        counts[local.hour] += 1
    return [s / n if n else 0.0 for s, n in zip(sums, counts, strict=True)]


def chart(reports: Reports, which: Chart, q: Query, lang: str = "az") -> str:
    """The chart's SVG for the period and filters of `q` (its grouping is the chart's)."""
    if which in (Chart.DAY, Chart.WEEK):
        hours = reports.report(replace(q, group_by=Grouping.HOUR), lang=lang)
        return draw_hours(which, hours)
    if which == Chart.COUNTRIES:
        return draw_countries(reports.report(replace(q, group_by=Grouping.COUNTRY), lang=lang))
    return draw_programmes(reports.report(replace(q, group_by=Grouping.PROGRAMME), lang=lang))


def draw_hours(which: Chart, hours: Report) -> str:
    zone = str(hours.query.tz)
    if which == Chart.DAY:
        values = [(f"{h:02d}", v) for h, v in enumerate(by_hour_of_day(hours))]
        return charts.columns(
            f"Listeners over a day (average at once, {zone})", values, "listeners"
        )
    return charts.heat_map(
        f"A week by hour (average listeners at once, {zone})",
        WEEKDAYS,
        [f"{h:02d}" for h in range(24)],
        by_hour_of_week(hours),
        "listeners",
    )


def draw_countries(countries: Report) -> str:
    items = [(f.key, f.hours) for f in countries.rows if f.seconds]
    return charts.world("Listening hours by country", items, "hours")


def draw_programmes(programmes: Report) -> str:
    items = [(f.label, f.hours) for f in programmes.rows if f.key != "0" and f.seconds][:TOP]
    return charts.bars("Top programmes by listening hours", items, "hours")
