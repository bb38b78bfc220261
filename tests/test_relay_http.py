"""The relay's HTTP parsing without sockets: the request heads of real source clients, their
stream headers, credentials, query strings and the head a listener gets."""

from __future__ import annotations

import base64

import pytest

from streamer.icy import ICY_METAINT, parse_response_head
from streamer.relay_http import (
    BadRequest,
    StreamInfo,
    listener_response_head,
    parse_request_head,
    query_params,
    source_authorised,
    stream_info_from_headers,
)

SOURCE_PASSWORD = "mənbə-parol"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_request_heads_of_ffmpeg_butt_and_old_ice_clients_are_understood() -> None:
    ffmpeg = parse_request_head(
        [
            b"PUT /diaspor.mp3 HTTP/1.1",
            b"Expect: 100-continue",
            b"Content-Type: audio/mpeg",
            b"Ice-Name: Diaspor.FM",
            f"Authorization: {_basic('source', SOURCE_PASSWORD)}".encode(),
        ]
    )
    assert (ffmpeg.method, ffmpeg.path, ffmpeg.version) == ("PUT", "/diaspor.mp3", "HTTP/1.1")
    assert ffmpeg.headers["ice-name"] == "Diaspor.FM"
    assert source_authorised(ffmpeg, SOURCE_PASSWORD)
    assert not source_authorised(ffmpeg, "another")

    butt = parse_request_head([b"SOURCE /live HTTP/1.0", b"icy-name: Canl\xc4\xb1 efir"])
    assert butt.method == "SOURCE" and butt.headers["icy-name"] == "Canlı efir"
    assert not source_authorised(butt, SOURCE_PASSWORD)  # no credentials at all

    ice = parse_request_head([b"SOURCE /live ICE/1.0", f"ice-password: {SOURCE_PASSWORD}".encode()])
    assert source_authorised(ice, SOURCE_PASSWORD)

    admin_as_source = parse_request_head(
        [b"PUT /x HTTP/1.1", f"Authorization: {_basic('admin', SOURCE_PASSWORD)}".encode()]
    )
    assert not source_authorised(admin_as_source, SOURCE_PASSWORD)


@pytest.mark.parametrize(
    "lines",
    [[], [b"GET /"], [b"GET live HTTP/1.0"], [b"GET / HTTP/1.0", b"no colon here"]],
)
def test_malformed_requests_are_refused(lines: list[bytes]) -> None:
    with pytest.raises(BadRequest):
        parse_request_head(lines)


def test_ice_headers_and_the_older_icy_headers_both_describe_the_stream() -> None:
    ice = stream_info_from_headers(
        {
            "content-type": "audio/aac",
            "ice-name": "Diaspor.FM",
            "ice-description": "Vətən uzaqda deyil",
            "ice-genre": "Folk",
            "ice-url": "https://diaspor.fm",
            "ice-public": "1",
            "ice-audio-info": "ice-samplerate=48000;ice-bitrate=96;ice-channels=2",
        }
    )
    assert ice == StreamInfo(
        "audio/aac",
        "Diaspor.FM",
        "Vətən uzaqda deyil",
        "Folk",
        "https://diaspor.fm",
        True,
        96,
        "ice-samplerate=48000;ice-bitrate=96;ice-channels=2",
    )
    icy = stream_info_from_headers({"icy-name": "Köhnə", "icy-br": "128", "icy-genre": "Muğam"})
    assert (icy.content_type, icy.name, icy.bitrate, icy.genre) == (
        "audio/mpeg",
        "Köhnə",
        128,
        "Muğam",
    )
    defaults = StreamInfo(name="Diaspor.FM", genre="Various")
    assert stream_info_from_headers({"ice-genre": "Jazz"}, defaults).name == "Diaspor.FM"
    # A source cannot smuggle extra header lines to listeners.
    assert stream_info_from_headers({"ice-name": "a\r\nSet-Cookie: x"}).name == "aSet-Cookie: x"


def test_a_listener_head_has_icy_lines_only_for_what_the_source_said() -> None:
    full = listener_response_head(
        StreamInfo("audio/mpeg", "Diaspor.FM", "Radio", "Folk", "https://diaspor.fm", bitrate=128),
        ICY_METAINT,
    )
    head = parse_response_head(full)
    assert head.status == 200 and full.startswith(b"HTTP/1.0 200 OK\r\n")
    assert head.headers["content-type"] == "audio/mpeg"
    assert head.headers["icy-br"] == "128" and head.headers["icy-metaint"] == str(ICY_METAINT)
    assert head.headers["icy-name"] == "Diaspor.FM" and head.headers["icy-url"].endswith(".fm")
    assert "no-cache" in head.headers["cache-control"]
    bare = parse_response_head(listener_response_head(StreamInfo(), None)).headers
    assert "icy-br" not in bare and "icy-name" not in bare and "icy-metaint" not in bare


def test_admin_queries_keep_azerbaijani_letters_and_honour_the_named_charset() -> None:
    utf8 = "mount=%2Flive&mode=updinfo&song=A%C5%9F%C4%B1q+%C6%8Fl%C9%99sg%C9%99r&charset=UTF-8"
    assert query_params(utf8)["song"] == "Aşıq Ələsgər"
    assert query_params("song=A%C5%9F%C4%B1q")["song"] == "Aşıq"  # UTF-8 unless told otherwise
    assert query_params("song=Caf%E9&charset=ISO-8859-1")["song"] == "Café"
    with pytest.raises(BadRequest, match="unknown charset"):
        query_params("song=x&charset=klingon")
