"""The programme guide: timeline items grouped into the blocks a listener sees in an EPG.

The guide is made from the resolved timeline, never from the rules directly, so a soft
start that waits for a song to end shows in the guide exactly as it airs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select

from schedules.models import ChannelRow, ClockRow, EntryRow, EpisodeRow, PlaylistRow, ProgrammeRow
from schedules.plan import Span, TimelineItem
from station.db import Database

LANGS = ("az", "en", "ru")


def pick(texts: Mapping[str, str], lang: str) -> str:
    """The text in lang, else Azerbaijani, else any."""
    return texts.get(lang) or texts.get("az") or next(iter(texts.values()), "")


@dataclass(frozen=True, slots=True)
class GuideNames:
    """Words for the guide, by id: what the timeline items refer to."""

    channel: Mapping[str, str]
    entries: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    entry_targets: Mapping[int, tuple[str, int]] = field(default_factory=dict)
    programmes: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    programme_descriptions: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    programme_categories: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    programme_slugs: Mapping[int, str] = field(default_factory=dict)
    programme_artwork: Mapping[int, int | None] = field(default_factory=dict)
    episodes: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    episode_numbers: Mapping[int, tuple[int | None, int | None]] = field(default_factory=dict)
    playlists: Mapping[int, str] = field(default_factory=dict)
    clocks: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GuideBlock(Span):
    start_ms: int
    end_ms: int
    kind: str  # programme | music | filler
    titles: Mapping[str, str]
    subtitles: Mapping[str, str] = field(default_factory=dict)  # episode titles
    descriptions: Mapping[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    entry_id: int | None = None
    programme_id: int | None = None
    programme_slug: str | None = None
    episode_id: int | None = None
    season: int | None = None
    episode: int | None = None
    artwork_media_id: int | None = None
    items: tuple[TimelineItem, ...] = ()


def _block(items: list[TimelineItem], names: GuideNames) -> GuideBlock:
    first = items[0]
    start, end = first.start_ms, items[-1].end_ms
    if first.entry_id is None:
        return GuideBlock(start, end, "filler", names.channel, items=tuple(items))
    target, target_id = names.entry_targets.get(first.entry_id, ("", 0))
    override = names.entries.get(first.entry_id) or {}
    if target == "programme":
        pid = first.programme_id or target_id
        ep = first.episode_id
        season, number = names.episode_numbers.get(ep, (None, None)) if ep else (None, None)
        return GuideBlock(
            start,
            end,
            "programme",
            titles=override or names.programmes.get(pid, {}),
            subtitles=names.episodes.get(ep, {}) if ep else {},
            descriptions=names.programme_descriptions.get(pid, {}),
            categories=names.programme_categories.get(pid, ()),
            entry_id=first.entry_id,
            programme_id=pid,
            programme_slug=names.programme_slugs.get(pid),
            episode_id=ep,
            season=season,
            episode=number,
            artwork_media_id=names.programme_artwork.get(pid),
            items=tuple(items),
        )
    if target == "clock":
        titles = override or {"az": names.clocks.get(target_id, "")}
    elif target == "playlist":
        titles = override or {"az": names.playlists.get(target_id, "")}
    else:
        titles = override or {"az": first.title}
    kind = "music" if any(i.kind == "music" for i in items) else items[0].kind
    return GuideBlock(start, end, kind, titles, entry_id=first.entry_id, items=tuple(items))


def build_guide(timeline: Sequence[TimelineItem], names: GuideNames) -> list[GuideBlock]:
    """Consecutive items of one occurrence (one clock hour, one programme) form a block;
    consecutive filler and slate form a block of their own."""
    blocks: list[GuideBlock] = []
    run: list[TimelineItem] = []

    def key(i: TimelineItem) -> tuple[int | None, int | None]:
        return (i.entry_id, i.block_ms) if i.entry_id is not None else (None, None)

    for item in timeline:
        if run and key(run[-1]) != key(item):
            blocks.append(_block(run, names))
            run = []
        run.append(item)
    if run:
        blocks.append(_block(run, names))
    return blocks


def load_names(db: Database, slug: str) -> GuideNames:
    with db.session() as s:
        ch = s.scalars(select(ChannelRow).where(ChannelRow.slug == slug)).one()
        entries = s.scalars(select(EntryRow).where(EntryRow.channel_id == ch.id)).all()
        progs = s.scalars(select(ProgrammeRow)).all()
        eps = s.scalars(select(EpisodeRow)).all()
        return GuideNames(
            channel=dict(ch.names or {}),
            entries={e.id: dict(e.titles) for e in entries if e.titles},
            entry_targets={e.id: (e.target_type, e.target_id) for e in entries},
            programmes={p.id: dict(p.titles) for p in progs},
            programme_descriptions={p.id: dict(p.descriptions) for p in progs},
            programme_categories={p.id: tuple(p.categories or ()) for p in progs},
            programme_slugs={p.id: p.slug for p in progs},
            programme_artwork={p.id: p.artwork_media_id for p in progs},
            episodes={e.id: dict(e.titles) for e in eps},
            episode_numbers={e.id: (e.season, e.number) for e in eps},
            playlists={p.id: p.name for p in s.scalars(select(PlaylistRow))},
            clocks={c.id: c.name for c in s.scalars(select(ClockRow))},
        )
