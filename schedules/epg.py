"""Guide exports for other software: XMLTV (EPG), an M3U channel list for IPTV players, and
iCalendar. Pure: channels and guide blocks in, bytes out."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from schedules.guide import LANGS, GuideBlock, pick

CATEGORY_NAMES = {"music": {"az": "Musiqi", "en": "Music", "ru": "Музыка"}}


@dataclass(frozen=True, slots=True)
class Stream:
    url: str
    format: str  # mp3 | aac | hls
    bitrate: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    slug: str
    kind: str
    names: Mapping[str, str]
    descriptions: Mapping[str, str]
    timezone: str
    logo_url: str | None = None
    streams: tuple[Stream, ...] = ()
    guide: tuple[GuideBlock, ...] = field(default=())


def xmltv_time(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y%m%d%H%M%S %z")


def xmltv(
    channels: Sequence[ChannelInfo], *, generator: str, artwork_url: Mapping[int, str]
) -> bytes:
    """XMLTV with every language's title, episode numbers, categories and icons."""
    tv = ET.Element("tv", {"generator-info-name": generator, "source-info-name": "Diaspor"})
    for ch in channels:
        el = ET.SubElement(tv, "channel", {"id": ch.slug})
        for lang in LANGS:
            if ch.names.get(lang):
                ET.SubElement(el, "display-name", {"lang": lang}).text = ch.names[lang]
        if ch.logo_url:
            ET.SubElement(el, "icon", {"src": ch.logo_url})
    for ch in channels:
        tz = ZoneInfo(ch.timezone)
        for b in ch.guide:
            p = ET.SubElement(
                tv,
                "programme",
                {
                    "start": xmltv_time(b.start_ms, tz),
                    "stop": xmltv_time(b.end_ms, tz),
                    "channel": ch.slug,
                },
            )
            titles = b.titles or ch.names
            for lang in LANGS:
                if titles.get(lang):
                    ET.SubElement(p, "title", {"lang": lang}).text = titles[lang]
            if not any(titles.get(lang) for lang in LANGS):
                ET.SubElement(p, "title").text = pick(titles, "az") or ch.slug
            for lang in LANGS:
                if b.subtitles.get(lang):
                    ET.SubElement(p, "sub-title", {"lang": lang}).text = b.subtitles[lang]
            for lang in LANGS:
                if b.descriptions.get(lang):
                    ET.SubElement(p, "desc", {"lang": lang}).text = b.descriptions[lang]
            for cat in (*b.categories, *([b.kind] if b.kind == "music" else [])):
                names = CATEGORY_NAMES.get(cat, {"en": cat})
                for lang, text in names.items():
                    ET.SubElement(p, "category", {"lang": lang}).text = text
            if b.artwork_media_id is not None and b.artwork_media_id in artwork_url:
                ET.SubElement(p, "icon", {"src": artwork_url[b.artwork_media_id]})
            if b.episode is not None:
                season = f"S{b.season} " if b.season is not None else ""
                ET.SubElement(
                    p, "episode-num", {"system": "onscreen"}
                ).text = f"{season}E{b.episode}"
                s = str(b.season - 1) if b.season else ""
                ET.SubElement(
                    p, "episode-num", {"system": "xmltv_ns"}
                ).text = f"{s}.{b.episode - 1}."
    ET.indent(tv)
    body = ET.tostring(tv, encoding="unicode")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n' + body + "\n"
    ).encode()


def _attr(value: str) -> str:
    return value.replace('"', "'").replace("\n", " ")


def m3u(channels: Sequence[ChannelInfo], *, epg_url: str, lang: str) -> str:
    """An extended M3U for IPTV players: one line per channel stream, pointing at the EPG."""
    lines = [f'#EXTM3U url-tvg="{_attr(epg_url)}" x-tvg-url="{_attr(epg_url)}"']
    for ch in channels:
        name = pick(ch.names, lang) or ch.slug
        group = "Radio" if ch.kind == "radio" else "TV"
        formats = [st.format for st in ch.streams]
        for st in ch.streams:
            attrs = f'tvg-id="{ch.slug}" tvg-name="{_attr(name)}"'
            if ch.logo_url:
                attrs += f' tvg-logo="{_attr(ch.logo_url)}"'
            attrs += f' group-title="{group}"'
            if ch.kind == "radio":
                attrs += ' radio="true"'
            kind = st.format  # with its rate where the format comes more than once (aac)
            if formats.count(st.format) > 1 and st.bitrate:
                kind += f" {st.bitrate} kbit/s"
            label = name if len(ch.streams) == 1 else f"{name} ({kind})"
            lines += [f"#EXTINF:-1 {attrs},{label}", st.url]
    return "\n".join(lines) + "\n"


def ical(
    name: str,
    channel_slug: str,
    blocks: Sequence[GuideBlock],
    *,
    lang: str,
    tz: ZoneInfo | None = None,
) -> bytes:
    """One VEVENT per guide block; UIDs are stable, so calendars update rather than duplicate.
    Times are UTC, or with `tz` local times of that zone (TZID, and its VTIMEZONE)."""
    cal = Calendar()
    cal.add("prodid", "-//Diaspor//schedule//AZ")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    if tz is not None:
        cal.add("x-wr-timezone", tz.key)
    for b in blocks:
        ev = Event()
        ev.add("uid", f"{channel_slug}-{b.entry_id or 'fill'}-{b.start_ms}@diaspor")
        ev.add("dtstamp", datetime.fromtimestamp(b.start_ms / 1000, UTC))
        ev.add("dtstart", b.start.astimezone(tz) if tz else b.start)
        ev.add("dtend", b.end.astimezone(tz) if tz else b.end)
        title = pick(b.titles, lang)
        sub = pick(b.subtitles, lang) if b.subtitles else ""
        ev.add("summary", f"{title} — {sub}" if sub else title)
        if b.descriptions:
            ev.add("description", pick(b.descriptions, lang))
        ev.add("location", name)
        if b.categories:
            ev.add("categories", list(b.categories))
        cal.add_component(ev)
    if tz is not None and blocks:
        # The zone's rules over the span of these events only (not 1970-2038).
        first = min(b.start for b in blocks).astimezone(tz).date() - timedelta(days=1)
        last = max(b.end for b in blocks).astimezone(tz).date() + timedelta(days=1)
        cal.add_missing_timezones(first_date=first, last_date=last)
    return bytes(cal.to_ical())
