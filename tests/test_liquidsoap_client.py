"""The Liquidsoap client's reply parsing, on replies as Liquidsoap 2.1.3 gave them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streamer.liquidsoap_client import (
    LiquidsoapError,
    parse_ids,
    parse_metadata,
    parse_uptime,
    unescape,
)
from streamer.liquidsoap_script import AMPLIFY_KEY

BEHBUDOV = "Rəşid Behbudov"


# --- pure: replies -----------------------------------------------------------------------------

# `request.metadata 0` as Liquidsoap 2.1.3 answered it (bytes before END, decoded).
METADATA_REPLY = (
    'liq_amplify="-3 dB"\nrid="0"\non_air="2026/11/26 01:40:31"\nstatus="playing"\n'
    'initial_uri="annotate:title=\\"Sarı gəlin \\\\\\"q\\\\\\" back\\\\\\\\slash\\",'
    'artist=\\"Rəşid Behbudov\\":/tmp/a.mp3"\n'
    'filename="/tmp/a.mp3"\ntitle="Sarı gəlin \\"q\\" back\\\\slash"\n'
    'artist="Rəşid Behbudov"\ncomment="line1\\nline2\\ttab"\n'
    'txxx="\\u0003comment\\u0000x"\non_air_timestamp="1795657231.00"\ndiaspor_item="it-1"'
)


def test_metadata_reply_is_parsed_and_unescaped() -> None:
    meta = parse_metadata(METADATA_REPLY)
    assert meta["title"] == 'Sarı gəlin "q" back\\slash'
    assert meta["artist"] == BEHBUDOV
    assert meta["rid"] == "0"
    assert meta["comment"] == "line1\nline2\ttab"
    assert meta["txxx"] == "\x03comment\x00x"
    assert meta["initial_uri"] == (
        'annotate:title="Sarı gəlin \\"q\\" back\\\\slash",artist="Rəşid Behbudov":/tmp/a.mp3'
    )
    assert meta["diaspor_item"] == "it-1"
    assert meta[AMPLIFY_KEY] == "-3 dB"


def test_unescape_reads_unicode_escapes_and_surrogate_pairs() -> None:
    assert unescape("\\u0259 \\ud83c\\udfb5 \\x41 \\/") == "ə 🎵 A /"


def test_id_lists_and_uptime_are_read() -> None:
    assert parse_ids("") == []
    assert parse_ids("3 4") == [3, 4]
    with pytest.raises(LiquidsoapError):
        parse_ids("No such request.")
    assert parse_uptime("1d 02h 03m 04s") == timedelta(days=1, hours=2, minutes=3, seconds=4)
