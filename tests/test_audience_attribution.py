"""Attribution and facts, pure: a session's parts cover it exactly, second by second, whatever
the items on air; its hour cells add up to its length; and the minute marks' changes sum to
none once it has ended."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from audience.attribution import Aired, Meaning, seconds_by_programme, seconds_by_title, split
from audience.facts import Facts, Listened

T0 = 1_793_000_000  # an instant in November 2026, in epoch seconds


@st.composite
def items(draw: st.DrawFn) -> list[Aired]:
    """Consecutive items from T0, some programmes, some not, a gap before the first."""
    lengths = draw(st.lists(st.integers(1, 5000), max_size=12))
    at = T0 + draw(st.integers(0, 3000))
    out = []
    for i, n in enumerate(lengths):
        programme = draw(st.sampled_from([None, 1, 2]))
        out.append(Aired(at, at + n, programme, programme and 10 + programme, f"item {i}"))
        at += n
    return out


def session(start: int, seconds: int) -> Listened:
    return Listened(1, "relay", "diaspor-fm", None, start, seconds, "v", "AZ", "VLC", "PC", "Linux")


@given(items(), st.integers(0, 20_000), st.integers(0, 30_000))
def test_the_parts_of_a_session_cover_it_exactly(
    aired: list[Aired], offset: int, seconds: int
) -> None:
    start = T0 + offset
    parts = split(start, start + seconds, aired)
    assert parts[0].start_s == start and parts[-1].end_s == start + seconds
    assert all(a.end_s == b.start_s for a, b in itertools.pairwise(parts))
    assert sum(seconds_by_programme(parts).values()) == seconds
    assert sum(seconds_by_title(parts).values()) == seconds
    for p in parts:  # each part is what was on air then, or nothing where nothing was
        on = [i for i in aired if i.start_s <= p.start_s < i.end_s]
        assert p.aired == (on[0] if on else None) or p.start_s == p.end_s


@given(items(), st.integers(0, 20_000), st.integers(0, 30_000))
def test_a_sessions_cells_add_up_to_it_and_its_minutes_to_nothing(
    aired: list[Aired], offset: int, seconds: int
) -> None:
    s = session(T0 + offset, seconds)
    facts = Facts()
    facts.add(s, split(s.start_s, s.start_s + seconds, aired), Meaning(None, None))
    cells = list(facts.hours.values())
    assert sum(c[0] for c in cells) == 1  # begun once
    assert sum(c[2] for c in cells) == seconds
    programmes = {k[7:] for k in facts.hours}
    assert sum(c[1] for c in cells) == len(programmes)  # joined each programme once
    assert sum(facts.minutes.values()) == 0
    assert all(k[0] % 3600 == 0 for k in facts.hours)


def test_a_boundary_between_two_programmes_splits_the_listening_to_the_second() -> None:
    news = Aired(T0, T0 + 600, 1, 11, "Xəbərlər")
    show = Aired(T0 + 600, T0 + 4200, 2, 12, "Vətən uzaqda deyil")
    parts = split(T0 + 300, T0 + 1000, [news, show])
    assert seconds_by_programme(parts) == {1: 300, 2: 400}
    assert seconds_by_title(parts) == {"Xəbərlər": 300, "Vətən uzaqda deyil": 400}
    assert split(T0 + 5000, T0 + 5000, [news, show])[0].aired is None  # after the last
