"""The timeline resolver: what the guide says is what airs, to the millisecond."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from schedules.plan import (
    ActionSpec,
    Catalogue,
    ChannelSpec,
    ClockSlot,
    ClockSpec,
    EntrySpec,
    EpisodeSpec,
    MediaRef,
    PlaylistSpec,
    ProgrammeSpec,
    TimelineItem,
    to_ms,
)
from schedules.recurrence import fast_forward, occurrence_starts
from schedules.timeline import ACTION_FADE_MS, DAY_MS, expand, resolve, shadowed

BAKU = ZoneInfo("Asia/Baku")
MIN = 60_000


def song(i: int, artist: str, seconds: int) -> MediaRef:
    return MediaRef(i, "music", f"Mahnı {i}", artist, seconds * 1000, 500, seconds * 1000 - 300)


SONGS = {
    1: song(1, "Rəşid Behbudov", 200),
    2: song(2, "Rəşid Behbudov", 185),
    3: song(3, "Zeynəb Xanlarova", 240),
    4: song(4, "Müslüm Maqomayev", 210),
    5: song(5, "Sevda Ələkbərzadə", 195),
    6: song(6, "Aygün Kazımova", 230),
    7: song(7, "Zeynəb Xanlarova", 175),
    8: song(8, "Müslüm Maqomayev", 260),
}
JINGLE = MediaRef(50, "jingle", "Diaspor.FM", "Diaspor.FM", 6000)
NEWS = MediaRef(60, "speech", "Xəbərlər", "Diaspor.FM", 4 * MIN)
BED = MediaRef(70, "filler", "Fon", "", 45_000)
STING = MediaRef(71, "filler", "Qısa fon", "", 8_000)
EPISODE = MediaRef(80, "programme", "Vətən uzaqda deyil №1", "", 50 * MIN)
EPISODE2 = MediaRef(81, "programme", "Vətən uzaqda deyil №2", "", 40 * MIN)

CAT = Catalogue(
    media={**SONGS, 50: JINGLE, 60: NEWS, 70: BED, 71: STING, 80: EPISODE, 81: EPISODE2},
    playlists={
        1: PlaylistSpec(
            1,
            "Musiqi",
            tuple(SONGS),
            shuffle=True,
            artist_separation_ms=10 * MIN,
            track_separation_ms=60 * MIN,
        ),
        2: PlaylistSpec(2, "Fon", (70, 71)),
        3: PlaylistSpec(3, "Xəbərlər", (60,)),
    },
    clocks={
        1: ClockSpec(
            1,
            "Musiqi saatı",
            (
                ClockSlot(0, "media", 50, hard=True),
                ClockSlot(0, "playlist", 1, fill=True),
                ClockSlot(30 * MIN, "playlist", 3, hard=True),
                ClockSlot(30 * MIN, "playlist", 1, fill=True),
            ),
        ),
    },
    programmes={
        1: ProgrammeSpec(
            1,
            "veten-uzaqda-deyil",
            {"az": "Vətən uzaqda deyil"},
            (
                EpisodeSpec(1, 1, 80, number=1, air_date=date(2026, 11, 29)),
                EpisodeSpec(2, 1, 81, number=2, air_date=date(2026, 12, 27)),
            ),
        ),
    },
)
RADIO = ChannelSpec(
    1,
    "diaspor-fm",
    "radio",
    "Asia/Baku",
    crossfade_ms=3000,
    filler_playlist_id=2,
    slate_media_id=None,
)
DAY = datetime(2026, 11, 29, tzinfo=BAKU)  # a Sunday


def baku(d: datetime, h: int, m: int = 0) -> datetime:
    return d.replace(hour=h, minute=m)


def background(eid: int = 1) -> EntrySpec:
    """24-hour music clock, every day from midnight."""
    return EntrySpec(
        eid,
        "clock",
        1,
        datetime(2026, 11, 1),
        duration_ms=24 * 60 * MIN,
        rrule="FREQ=DAILY",
        hard=True,
    )


def assert_seamless(items: list[TimelineItem], start: datetime, end: datetime) -> None:
    assert items, "nothing on air"
    assert items[0].start_ms <= to_ms(start) < items[0].end_ms
    assert items[-1].start_ms < to_ms(end) <= items[-1].end_ms
    for a, b in pairwise(items):
        assert a.end_ms == b.start_ms, (a, b)  # no gap, no overlap
        assert a.length_ms > 0
        assert a.cue_out_ms - a.cue_in_ms == a.length_ms + a.crossfade_ms


# --- recurrence --------------------------------------------------------------------------


def test_monthly_last_sunday_at_20_baku() -> None:
    e = EntrySpec(1, "programme", 1, datetime(2026, 1, 1, 20, 0), rrule="FREQ=MONTHLY;BYDAY=-1SU")
    got = occurrence_starts(
        e, BAKU, to_ms(datetime(2026, 10, 1, tzinfo=UTC)), to_ms(datetime(2027, 1, 1, tzinfo=UTC))
    )
    assert [datetime.fromtimestamp(t / 1000, BAKU).isoformat() for t in got] == [
        "2026-10-25T20:00:00+04:00",
        "2026-11-29T20:00:00+04:00",
        "2026-12-27T20:00:00+04:00",
    ]


def test_weekly_with_exceptions_skips_the_excluded_days() -> None:
    e = EntrySpec(
        1,
        "playlist",
        1,
        datetime(2026, 11, 2, 9, 0),
        rrule="FREQ=WEEKLY;BYDAY=MO,WE",
        exdates=(datetime(2026, 11, 11, 9, 0),),
    )
    got = occurrence_starts(
        e, BAKU, to_ms(datetime(2026, 11, 1, tzinfo=UTC)), to_ms(datetime(2026, 11, 17, tzinfo=UTC))
    )
    days = [datetime.fromtimestamp(t / 1000, BAKU).day for t in got]
    assert days == [2, 4, 9, 16]  # the 11th is an exception


RULES = [
    "FREQ=MINUTELY",
    "FREQ=MINUTELY;INTERVAL=7;BYHOUR=9,10",
    "FREQ=HOURLY;INTERVAL=5",
    "FREQ=HOURLY;BYDAY=MO,FR;BYMINUTE=0,30",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=DAILY;BYMONTH=3,11",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU",
    "FREQ=WEEKLY;BYDAY=MO;BYSETPOS=1",
    "FREQ=MINUTELY;INTERVAL=13;UNTIL=20261120T000000",
]


@given(
    rule=st.sampled_from(RULES),
    begun=st.integers(0, 400 * 24 * 60),
    later=st.integers(0, 60 * 24 * 60),
)
@settings(max_examples=60, deadline=None)
def test_a_rule_begun_long_ago_has_the_occurrences_it_would_have_walked_to(
    rule: str, begun: int, later: int
) -> None:
    """Occurrences come from a start moved close to the window (fast_forward); they are
    exactly the ones the rule walked from its real start gives."""
    start = datetime(2025, 10, 1, 8, 17) + timedelta(minutes=begun)
    lo = start + timedelta(minutes=later)
    hi = lo + timedelta(hours=30)
    walked = list(rrulestr(rule, dtstart=start).between(lo, hi, inc=True))
    moved = fast_forward(rule, start, lo)
    assert moved <= lo
    assert list(rrulestr(rule, dtstart=moved).between(lo, hi, inc=True)) == walked


def test_a_weekly_show_stays_at_20_local_across_a_dst_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    e = EntrySpec(1, "programme", 1, datetime(2026, 3, 1, 20, 0), rrule="FREQ=WEEKLY")
    got = occurrence_starts(
        e, berlin, to_ms(datetime(2026, 3, 20, tzinfo=UTC)), to_ms(datetime(2026, 4, 6, tzinfo=UTC))
    )
    utc = [datetime.fromtimestamp(t / 1000, UTC).strftime("%m-%d %H:%M") for t in got]
    local = {datetime.fromtimestamp(t / 1000, berlin).strftime("%H:%M") for t in got}
    assert utc == ["03-22 19:00", "03-29 18:00", "04-05 18:00"]  # CET, then CEST from 29 March
    assert local == {"20:00"}


def test_the_effective_range_of_an_edited_rule_bounds_its_occurrences() -> None:
    cut = to_ms(datetime(2026, 11, 10, tzinfo=BAKU))
    old = EntrySpec(
        1, "playlist", 1, datetime(2026, 11, 1, 9), rrule="FREQ=DAILY", effective_until_ms=cut
    )
    new = EntrySpec(
        2, "playlist", 1, datetime(2026, 11, 1, 10), rrule="FREQ=DAILY", effective_from_ms=cut
    )
    lo, hi = to_ms(datetime(2026, 11, 8, tzinfo=BAKU)), to_ms(datetime(2026, 11, 12, tzinfo=BAKU))
    hours = [
        datetime.fromtimestamp(t / 1000, BAKU).strftime("%d %H")
        for e in (old, new)
        for t in occurrence_starts(e, BAKU, lo, hi)
    ]
    assert hours == ["08 09", "09 09", "10 10", "11 10"]


# --- the resolver ------------------------------------------------------------------------


def test_a_day_of_the_music_clock_covers_every_instant_with_ids_and_news_on_time() -> None:
    start, end = DAY, DAY + timedelta(days=1)
    items = resolve(RADIO, [background()], CAT, start, end)
    assert_seamless(items, start, end)
    for h in range(24):
        at = to_ms(baku(DAY, h))
        jingle = next(i for i in items if i.start_ms == at)
        assert jingle.media_id == 50 and jingle.hard  # the station ID at :00, exactly
        news = next(i for i in items if i.start_ms == at + 30 * MIN)
        assert news.media_id == 60 and news.kind == "speech" and news.hard
    music = [i for i in items if i.kind == "music"]
    assert len(music) > 200
    # Music into music crossfades; into a hard start nothing does.
    assert {i.crossfade_ms for i in music} == {3000}
    assert all(a.crossfade_ms == 0 for a, b in pairwise(items) if b.hard)
    assert all(i.crossfade_ms == 0 for i in items if i.kind in ("speech", "jingle"))


def test_artists_are_kept_apart_by_the_separation_window() -> None:
    items = resolve(RADIO, [background()], CAT, DAY, DAY + timedelta(hours=6))
    music = [i for i in items if i.kind == "music"]
    for a, b in pairwise(music):
        assert a.artist != b.artist  # eight songs, six artists, ten minutes apart
    last: dict[str, int] = {}
    for i in music:
        if i.artist in last:
            assert i.start_ms - last[i.artist] >= 10 * MIN - 3000
        last[i.artist] = i.start_ms


def test_a_hard_start_programme_lands_on_its_second_and_the_music_resumes_after() -> None:
    show = EntrySpec(2, "programme", 1, datetime(2026, 11, 1, 20, 7), rrule="FREQ=WEEKLY;BYDAY=SU")
    start, end = baku(DAY, 19), baku(DAY, 22)
    items = resolve(RADIO, [background(), show], CAT, start, end)
    assert_seamless(items, start, end)
    prog = next(i for i in items if i.kind == "programme")
    assert prog.start_ms == to_ms(baku(DAY, 20, 7)) and prog.hard
    assert prog.media_id == 80 and prog.episode_id == 1  # the episode dated that day
    assert prog.length_ms == 50 * MIN and not prog.cut
    # The :30 news inside the programme does not cut it; the clock resumes at 20:57.
    assert not any(i.start_ms == to_ms(baku(DAY, 20, 30)) for i in items)
    after = items[items.index(prog) + 1]
    assert after.start_ms == to_ms(baku(DAY, 20, 57)) and after.kind in ("music", "filler")
    # Before the programme the music was fitted to end exactly at 20:07.
    before = items[items.index(prog) - 1]
    assert before.end_ms == prog.start_ms and before.crossfade_ms == 0


def test_a_programme_running_into_a_hard_start_is_cut_there() -> None:
    show = EntrySpec(2, "programme", 1, datetime(2026, 11, 29, 20, 0))
    news = EntrySpec(3, "media", 60, datetime(2026, 11, 29, 20, 30))
    items = resolve(RADIO, [show, news], CAT, baku(DAY, 20), baku(DAY, 21))
    prog = next(i for i in items if i.kind == "programme")
    assert prog.cut and prog.length_ms == 30 * MIN and prog.fade_out_ms > 0
    assert items[items.index(prog) + 1].start_ms == to_ms(baku(DAY, 20, 30))


def test_a_soft_start_waits_for_the_current_item_to_end() -> None:
    show = EntrySpec(2, "programme", 1, datetime(2026, 11, 29, 20, 7), hard=False)
    items = resolve(RADIO, [background(), show], CAT, baku(DAY, 19), baku(DAY, 22))
    prog = next(i for i in items if i.kind == "programme")
    playing = next(i for i in items if i.start_ms <= to_ms(baku(DAY, 20, 7)) < i.end_ms)
    assert playing.kind != "programme"
    assert prog.start_ms == playing.end_ms > to_ms(baku(DAY, 20, 7))
    assert not prog.hard


def test_gaps_are_filled_with_filler_and_then_slate_to_the_exact_instant() -> None:
    show = EntrySpec(2, "programme", 1, datetime(2026, 11, 29, 20, 0, 10))
    start, end = baku(DAY, 19, 58), baku(DAY, 21)
    items = resolve(RADIO, [show], CAT, start, end)
    assert_seamless(items, start, end)
    lead = [i for i in items if i.end_ms <= to_ms(baku(DAY, 20)) + 10_000]
    assert {i.kind for i in lead} <= {"filler", "slate"}
    assert any(i.kind == "filler" for i in lead)
    prog = next(i for i in items if i.kind == "programme")
    assert prog.start_ms == to_ms(baku(DAY, 20)) + 10_000
    # With no filler at all, slate (silence or the station card) covers it.
    bare = ChannelSpec(2, "bare", "tv", "Asia/Baku")
    items = resolve(bare, [show], CAT, start, end)
    assert_seamless(items, start, end)
    assert items[0].kind == "slate" and items[0].end_ms == prog.start_ms


def test_an_episode_without_media_leaves_filler_not_silence() -> None:
    cat = Catalogue(
        media=CAT.media,
        playlists=CAT.playlists,
        programmes={
            1: ProgrammeSpec(1, "x", {"az": "X"}, (EpisodeSpec(1, 1, None),)),
        },
    )
    show = EntrySpec(2, "programme", 1, datetime(2026, 11, 29, 20, 0), duration_ms=30 * MIN)
    items = resolve(RADIO, [show], cat, baku(DAY, 20), baku(DAY, 20, 30))
    assert_seamless(items, baku(DAY, 20), baku(DAY, 20, 30))
    assert {i.kind for i in items} <= {"filler", "slate"}
    # The slot stays the programme's (in the guide, and for its presenter's live credentials).
    assert {(i.programme_id, i.entry_id) for i in items} == {(1, 2)}


def test_a_programme_across_midnight_keeps_its_time_and_the_next_day_follows_it() -> None:
    show = EntrySpec(2, "programme", 1, datetime(2026, 11, 29, 23, 40))
    start, end = baku(DAY, 23), baku(DAY, 23) + timedelta(hours=2)
    items = resolve(RADIO, [background(), show], CAT, start, end)
    assert_seamless(items, start, end)
    prog = next(i for i in items if i.kind == "programme")
    assert prog.start_ms == to_ms(baku(DAY, 23, 40)) and not prog.cut
    assert prog.length_ms == 50 * MIN
    assert items[items.index(prog) + 1].start_ms == prog.end_ms


def test_the_answer_does_not_depend_on_the_window_asked_for() -> None:
    entries = [
        background(),
        EntrySpec(2, "programme", 1, datetime(2026, 11, 1, 20, 7), rrule="FREQ=WEEKLY;BYDAY=SU"),
    ]
    whole = resolve(RADIO, entries, CAT, DAY, DAY + timedelta(days=2))
    part = resolve(RADIO, entries, CAT, baku(DAY, 13, 17), baku(DAY, 15, 2))
    assert part == [
        i for i in whole if i.end_ms > part[0].start_ms and i.start_ms < part[-1].end_ms
    ]
    assert resolve(RADIO, entries, CAT, DAY, DAY + timedelta(days=2)) == whole


# --- properties over random schedules ----------------------------------------------------


@st.composite
def schedules(draw: st.DrawFn) -> list[EntrySpec]:
    entries: list[EntrySpec] = []
    if draw(st.booleans()):
        entries.append(background())
    for i in range(draw(st.integers(0, 6))):
        target = draw(st.sampled_from(["programme", "playlist", "media", "clock"]))
        ref = {
            "programme": 1,
            "playlist": draw(st.sampled_from([1, 2, 3])),
            "media": draw(st.sampled_from([50, 60, 80, 3])),
            "clock": 1,
        }[target]
        minute = draw(st.integers(0, 36 * 60 - 1))
        sec = draw(st.sampled_from([0, 0, 0, 17, 45]))
        start = datetime(2026, 11, 29) + timedelta(minutes=minute, seconds=sec)
        dur = draw(st.one_of(st.none(), st.integers(1, 180).map(lambda m: m * MIN)))
        rrule = draw(st.sampled_from([None, None, "FREQ=DAILY", "FREQ=HOURLY;INTERVAL=5"]))
        entries.append(
            EntrySpec(
                10 + i,
                target,
                ref,
                start,
                duration_ms=dur,
                rrule=rrule,  # type: ignore[arg-type]
                hard=draw(st.booleans()),
            )
        )
    return entries


HOUR = 60 * MIN  # a clock without a duration runs for an hour


def more_specific(clock: EntrySpec, e: EntrySpec) -> bool:
    """Whether the clock's occurrences are shorter than e's (unknown: taken as shorter)."""
    return e.duration_ms is None or (clock.duration_ms or HOUR) < e.duration_ms


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=schedules(), offset=st.integers(0, 30 * 60), hours=st.integers(1, 30))
@example(  # an hour's clock at midnight, a 61-minute programme a minute later: the clock plays
    entries=[
        EntrySpec(10, "clock", 1, datetime(2026, 11, 29, 0, 0)),
        EntrySpec(11, "programme", 1, datetime(2026, 11, 29, 0, 1), duration_ms=61 * MIN),
    ],
    offset=0,
    hours=1,
)
def test_any_schedule_covers_every_instant_exactly_once(
    entries: list[EntrySpec], offset: int, hours: int
) -> None:
    start = DAY + timedelta(seconds=offset * 7)
    end = start + timedelta(hours=hours)
    items = resolve(RADIO, entries, CAT, start, end)
    assert_seamless(items, start, end)
    # Every hard start that is not inside a more specific occurrence lands exactly.
    starts = {i.start_ms for i in items}
    for e in entries:
        if not e.hard or e.target == "clock":
            continue
        for t in occurrence_starts(e, BAKU, to_ms(start), to_ms(end)):
            covering = [
                o
                for o in entries
                if o is not e and o.target != "clock"
                for s in occurrence_starts(o, BAKU, t - 2 * 86_400_000, t + 1)
                if s <= t
            ] + [
                # A clock is more specific than a longer entry: its hour of music is on air
                # and the longer entry's hard start inside it does not cut it.
                c
                for c in entries
                if c.target == "clock" and more_specific(c, e)
                for s in occurrence_starts(c, BAKU, t - 2 * 86_400_000, t + 1)
                if s <= t < s + (c.duration_ms or HOUR)
            ]
            if not covering:
                assert t in starts, (e, t)
    assert resolve(RADIO, entries, CAT, start, end) == items  # deterministic


# --- operators' actions: skip and play now ---------------------------------------------


def on_air_at(items: list[TimelineItem], at_ms: int) -> TimelineItem:
    return next(i for i in items if i.start_ms <= at_ms < i.end_ms)


ANNOUNCEMENT = MediaRef(90, "speech", "Təcili elan", "Diaspor.FM", 75_000)
WITH_ANNOUNCEMENT = Catalogue(
    {**CAT.media, 90: ANNOUNCEMENT}, CAT.playlists, CAT.clocks, CAT.programmes
)


def test_a_skip_cuts_the_song_on_air_and_what_was_next_starts_at_that_instant() -> None:
    start, end = baku(DAY, 14), baku(DAY, 15)
    plain = resolve(RADIO, [background()], CAT, start, end)
    song = on_air_at(plain, to_ms(baku(DAY, 14, 10)))
    assert song.kind == "music"
    at = song.start_ms + 40_000  # forty seconds into it
    items = resolve(RADIO, [background()], CAT, start, end, actions=[ActionSpec(7, "skip", at)])
    assert_seamless(items, start, end)
    k = items.index(next(i for i in items if i.start_ms == song.start_ms))
    assert items[:k] == plain[: plain.index(song)]  # the past is what it was
    cut = items[k]
    assert (cut.media_id, cut.end_ms, cut.cut) == (song.media_id, at, True)
    assert (cut.action, cut.action_id) == ("skip", 7)
    assert cut.cue_out_ms == cut.cue_in_ms + 40_000 and cut.crossfade_ms == 0
    assert cut.fade_out_ms == ACTION_FADE_MS
    following = items[k + 1]
    assert following.start_ms == at  # sharp: nothing crossfades into the instant of a skip
    assert following.media_id == plain[plain.index(song) + 1].media_id  # what was next
    # The news at :30 is a hard start: it does not move.
    news = next(i for i in items if i.media_id == 60)
    assert news.start_ms == to_ms(baku(DAY, 14, 30)) and news.hard
    assert items[items.index(news)] == plain[plain.index(news)]


def test_a_skipped_programme_gives_way_to_the_music_clock_it_covered() -> None:
    show = EntrySpec(2, "programme", 1, datetime(2026, 11, 1, 20, 7), rrule="FREQ=WEEKLY;BYDAY=SU")
    at = to_ms(baku(DAY, 20, 20))
    start, end = baku(DAY, 19), baku(DAY, 22)
    items = resolve(
        RADIO, [background(), show], CAT, start, end, actions=[ActionSpec(1, "skip", at)]
    )
    assert_seamless(items, start, end)
    prog = next(i for i in items if i.kind == "programme")
    assert prog.end_ms == at and prog.action == "skip"
    after = items[items.index(prog) + 1]
    assert after.start_ms == at and after.kind in ("music", "filler")
    assert any(i.start_ms == to_ms(baku(DAY, 21)) and i.media_id == 50 for i in items)


def test_play_now_puts_the_announcement_on_then_the_rest_of_the_item_where_it_stopped() -> None:
    show = EntrySpec(2, "programme", 1, datetime(2026, 11, 1, 20, 7), rrule="FREQ=WEEKLY;BYDAY=SU")
    entries = [background(), show]
    start, end = baku(DAY, 19), baku(DAY, 22)
    plain = resolve(RADIO, entries, WITH_ANNOUNCEMENT, start, end)
    at = to_ms(baku(DAY, 20, 17))  # ten minutes into the programme
    act = ActionSpec(3, "play-now", at, media_id=90)
    items = resolve(RADIO, entries, WITH_ANNOUNCEMENT, start, end, actions=[act])
    assert_seamless(items, start, end)
    prog = next(i for i in items if i.kind == "programme")
    assert prog.end_ms == at and prog.cut and prog.action == ""  # interrupted, not skipped
    now = items[items.index(prog) + 1]
    assert (now.media_id, now.start_ms, now.end_ms) == (90, at, at + 75_000)
    assert (now.action, now.action_id, now.hard, now.entry_id) == ("play-now", 3, True, None)
    rest = items[items.index(now) + 1]
    assert (rest.media_id, rest.start_ms, rest.cue_in_ms) == (80, now.end_ms, 10 * MIN)
    assert rest.end_ms == prog.start_ms + 50 * MIN + 75_000  # pushed later by the announcement
    assert rest.entry_id == prog.entry_id and rest.episode_id == prog.episode_id
    # Before the instant nothing changed; the next hard start (21:00's ID) did not move.
    assert items[: items.index(prog)] == plain[: plain.index(on_air_at(plain, at))]
    assert on_air_at(items, to_ms(baku(DAY, 21))).start_ms == to_ms(baku(DAY, 21))


def test_play_now_and_what_it_pushes_later_are_cut_at_the_next_hard_start() -> None:
    start, end = baku(DAY, 14), baku(DAY, 15)
    at = to_ms(baku(DAY, 14, 29)) + 30_000  # thirty seconds before the news
    act = ActionSpec(4, "play-now", at, media_id=90)
    items = resolve(RADIO, [background()], WITH_ANNOUNCEMENT, start, end, actions=[act])
    assert_seamless(items, start, end)
    now = on_air_at(items, at)
    assert now.media_id == 90 and now.start_ms == at and now.cut
    assert now.end_ms == to_ms(baku(DAY, 14, 30))
    news = items[items.index(now) + 1]
    assert news.media_id == 60 and news.start_ms == to_ms(baku(DAY, 14, 30))


def test_a_skip_of_the_announcement_a_play_now_began_goes_back_to_what_it_interrupted() -> None:
    start, end = baku(DAY, 14), baku(DAY, 15)
    plain = resolve(RADIO, [background()], WITH_ANNOUNCEMENT, start, end)
    at = to_ms(baku(DAY, 14, 10))
    song = on_air_at(plain, at)
    acts = [ActionSpec(5, "play-now", at, 90), ActionSpec(6, "skip", at + 20_000)]
    items = resolve(RADIO, [background()], WITH_ANNOUNCEMENT, start, end, actions=acts)
    assert_seamless(items, start, end)
    now = on_air_at(items, at)
    assert (now.media_id, now.end_ms, now.action) == (90, at + 20_000, "skip")
    rest = items[items.index(now) + 1]
    assert rest.media_id == song.media_id and rest.start_ms == at + 20_000
    assert rest.cue_in_ms == song.cue_in_ms + at - song.start_ms


@st.composite
def actions(draw: st.DrawFn, start_ms: int, hours: int) -> list[ActionSpec]:
    out = []
    for i in range(draw(st.integers(1, 4))):
        at = start_ms + draw(st.integers(1000, hours * 60 * MIN - 1))
        kind = draw(st.sampled_from(["skip", "play-now"]))
        media = draw(st.sampled_from([90, 50, 3])) if kind == "play-now" else None
        out.append(ActionSpec(100 + i, kind, at, media))  # type: ignore[arg-type]
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=schedules(), offset=st.integers(0, 30 * 60), data=st.data())
def test_with_actions_any_schedule_still_covers_every_instant_exactly_once(
    entries: list[EntrySpec], offset: int, data: st.DataObject
) -> None:
    start = DAY + timedelta(seconds=offset * 7)
    end = start + timedelta(hours=3)
    acts = data.draw(actions(to_ms(start), 3))
    plain = resolve(RADIO, entries, WITH_ANNOUNCEMENT, start, end)
    items = resolve(RADIO, entries, WITH_ANNOUNCEMENT, start, end, actions=acts)
    assert_seamless(items, start, end)
    assert resolve(RADIO, entries, WITH_ANNOUNCEMENT, start, end, actions=acts) == items
    first = min(a.at_ms for a in acts)
    # Before the first action the timeline is what it was, to the item on air then (an
    # action inside a crossfade acts on the item going out: the one coming in starts again).
    xf = RADIO.crossfade_ms
    assert [i for i in items if i.end_ms < first - xf] == [
        i for i in plain if i.end_ms < first - xf
    ]
    now = on_air_at(items, first - 1)
    before = resolve(RADIO, entries, WITH_ANNOUNCEMENT, start - timedelta(hours=1), end)
    assert (now.start_ms, now.media_id) in {(i.start_ms, i.media_id) for i in before}
    starts = {i.start_ms for i in items}
    occs = expand(RADIO, entries, WITH_ANNOUNCEMENT, to_ms(start) - DAY_MS, to_ms(end) + DAY_MS)
    hard = {
        o.start_ms
        for o in occs
        if o.hard and first < o.start_ms < to_ms(end) and not shadowed(o, occs)
    }
    assert hard <= starts  # the hard starts after the actions stay where they were
    for a in acts:
        if a.kind == "play-now" and a.at_ms not in hard:
            now = on_air_at(items, a.at_ms)
            length = WITH_ANNOUNCEMENT.media[a.media_id or 0].play_ms
            later = [  # an action given after it, while it plays, cuts it
                b for b in acts if (b.at_ms, b.id) > (a.at_ms, a.id) and b.at_ms < a.at_ms + length
            ]
            assert (now.media_id, now.start_ms) == (a.media_id, a.at_ms) or later, (a, now)
        if a.kind == "skip":
            assert a.at_ms in starts  # what follows starts there
