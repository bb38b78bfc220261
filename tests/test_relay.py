"""The built-in relay: ICY framing without sockets, then the relay itself with real TCP
clients (sources that push, listeners that read or do not)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.binaries import Tools
from station.clock import SimulatedClock
from streamer.icecast_admin import IcecastAdminError, update_title
from streamer.icy import (
    ICY_METAINT,
    MAX_METADATA,
    NO_CHANGE,
    IcyReader,
    IcyWriter,
    metadata_block,
    parse_metadata,
    parse_metadata_block,
    parse_response_head,
    safe_title,
)
from streamer.relay import Relay, SourceGrant
from streamer.relay_mount import MountStatus
from tests.support import free_port, run, tone
from tests.test_relay_http import SOURCE_PASSWORD, _basic

ADMIN_PASSWORD = "admin-parol"
AZ_TITLE = "Aşıq Ələsgər - Vətən ğışçöü"
# A title that closes its own field and opens another, with a control character for luck.
INJECTING = "Qız qalası';StreamUrl='http://evil.example/';\x07"
BINARY = "application/octet-stream"  # no frame alignment: the burst is byte-exact


# --- ICY framing (pure) ---------------------------------------------------------------------


def test_a_title_block_is_padded_to_sixteen_bytes_and_keeps_azerbaijani_letters() -> None:
    block = metadata_block(AZ_TITLE)
    payload = f"StreamTitle='{AZ_TITLE}';".encode()
    assert block[0] == -(-len(payload) // 16)
    assert len(block) == 1 + block[0] * 16
    assert block[1:].rstrip(b"\x00") == payload
    assert parse_metadata_block(block) == AZ_TITLE


def test_the_zero_block_means_nothing_new() -> None:
    assert parse_metadata_block(NO_CHANGE) is None
    with pytest.raises(ValueError, match="says 32 bytes"):
        parse_metadata_block(b"\x02StreamTitle='x';")


def test_a_title_too_long_for_one_block_is_cut_on_a_character_boundary() -> None:
    block = metadata_block("ə" * 5000)
    assert len(block) <= 1 + MAX_METADATA
    title = parse_metadata_block(block)
    assert title is not None and set(title) == {"ə"} and len(title) > 1000


def test_quotes_inside_a_title_from_another_server_are_read_back_whole() -> None:
    assert parse_metadata(b"StreamTitle='It's me';StreamUrl='https://diaspor.fm';\x00\x00") == {
        "StreamTitle": "It's me",
        "StreamUrl": "https://diaspor.fm",
    }


def test_latin1_titles_from_old_servers_are_still_shown() -> None:
    assert parse_metadata("StreamTitle='Café';".encode("latin-1")) == {"StreamTitle": "Café"}


def test_a_listener_gets_a_title_block_only_when_the_title_changed() -> None:
    writer = IcyWriter(metaint=4)
    one, two = metadata_block("bir"), metadata_block("iki")
    pieces = writer.frame(b"abcdefghij", one) + writer.frame(b"klmnop", one)
    pieces += writer.frame(b"qrst", two)
    assert b"".join(pieces) == (
        b"abcd"
        + one
        + b"efgh"
        + NO_CHANGE
        + b"ijkl"
        + NO_CHANGE
        + b"mnop"
        + NO_CHANGE
        + b"qrst"
        + two
    )


@given(
    audio=st.binary(min_size=0, max_size=3000),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=12),
    titles=st.lists(st.text(max_size=60), min_size=1, max_size=4),
    metaint=st.integers(min_value=1, max_value=700),
)
def test_whatever_the_chunking_a_reader_gets_back_the_audio_and_the_titles(
    audio: bytes, cuts: list[int], titles: list[str], metaint: int
) -> None:
    writer = IcyWriter(metaint)
    wire = bytearray()
    bounds = sorted({0, len(audio), *(c % (len(audio) + 1) for c in cuts)})
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        for piece in writer.frame(audio[a:b], metadata_block(titles[i % len(titles)])):
            wire += piece
    reader = IcyReader(metaint)
    got = bytearray()
    for i in range(0, len(wire), 7):
        got += reader.feed(bytes(wire[i : i + 7])).audio
    assert bytes(got) == audio
    sent = [safe_title(t) for t in titles]
    assert all(t in sent for t in reader.titles)
    assert all(a != b for a, b in itertools.pairwise(reader.titles))


def test_a_stream_without_metaint_is_all_audio() -> None:
    reader = IcyReader.from_headers({"content-type": "audio/mpeg"})
    assert reader.feed(b"\x00\x01\x02").audio == b"\x00\x01\x02"
    assert IcyReader.from_headers({"icy-metaint": "16000"}).metaint == 16000


def test_shoutcast_and_http_status_lines_are_both_read() -> None:
    head = parse_response_head(b"ICY 200 OK\r\nicy-name:Diaspor\r\nicy-metaint:8192\r\n\r\n")
    assert (head.status, head.headers["icy-metaint"]) == (200, "8192")
    assert parse_response_head(b"HTTP/1.0 404 File Not Found\r\n\r\n").status == 404
    with pytest.raises(ValueError):
        parse_response_head(b"garbage\r\n\r\n")


# --- the relay over real sockets ------------------------------------------------------------


_clients: dict[int, list[Conn]] = {}


@contextlib.asynccontextmanager
async def relay_running(**options: Any) -> AsyncIterator[Relay]:
    """A relay on a free port; every client a story opened is closed, then the relay stopped."""
    settings: dict[str, Any] = {
        "source_password": SOURCE_PASSWORD,
        "admin_password": ADMIN_PASSWORD,
        "hostname": "localhost",
        **options,
    }
    relay = Relay("127.0.0.1", 0, **settings)
    await relay.start()
    _clients[id(relay)] = []
    try:
        yield relay
    finally:
        for conn in _clients.pop(id(relay)):
            await conn.close()
        await relay.stop()


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def head(self) -> tuple[int, dict[str, str], bytes]:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        parsed = parse_response_head(raw)
        return parsed.status, parsed.headers, raw

    async def read_exactly(self, n: int, timeout: float = 10) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(n), timeout)

    async def closed_by_server(self, timeout: float = 5) -> bool:
        """Reads to the end: a close or a reset (the relay aborts what it will not flush)."""
        async with asyncio.timeout(timeout):
            with contextlib.suppress(ConnectionResetError):
                while await self.reader.read(65536):
                    pass
        return True

    async def close(self) -> None:
        if self.writer.transport.is_closing():
            return
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def connect(relay: Relay, request: str) -> Conn:
    reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
    conn = Conn(reader, writer)
    _clients.setdefault(id(relay), []).append(conn)
    writer.write(request.encode())
    await writer.drain()
    return conn


async def source(
    relay: Relay,
    mount: str,
    *,
    password: str = SOURCE_PASSWORD,
    content_type: str = BINARY,
    extra: str = "",
) -> tuple[Conn, int]:
    conn = await connect(
        relay,
        f"PUT {mount} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n"
        f"Ice-Name: Diaspor.FM\r\nIce-Genre: Muğam\r\n{extra}"
        f"Authorization: {_basic('source', password)}\r\n\r\n",
    )
    status, _, _ = await conn.head()
    return conn, status


async def listener(
    relay: Relay, mount: str, *, icy: bool = False
) -> tuple[Conn, int, dict[str, str]]:
    ask = "Icy-MetaData: 1\r\n" if icy else ""
    conn = await connect(relay, f"GET {mount} HTTP/1.0\r\nUser-Agent: VLC/3.0\r\n{ask}\r\n")
    status, headers, _ = await conn.head()
    return conn, status, headers


async def until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def mount_stats(relay: Relay, mount: str) -> MountStatus:
    return next(m for m in relay.stats() if m.mount == mount)


def pattern(n: int, seed: int = 0) -> bytes:
    return bytes((i * 7 + seed) % 251 for i in range(n))


def test_a_new_listener_gets_the_last_burst_at_once() -> None:
    async def story() -> None:
        async with relay_running(burst_bytes=64 * 1024) as relay:
            src, status = await source(relay, "/live.mp3")
            assert status == 200
            sent = pattern(100_000)
            src.writer.write(sent)
            await until(lambda: mount_stats(relay, "/live.mp3").bytes_received == len(sent))
            late, status, headers = await listener(relay, "/live.mp3")
            assert status == 200 and headers["content-type"] == BINARY
            assert headers["icy-name"] == "Diaspor.FM" and headers["icy-genre"] == "Muğam"
            assert await late.read_exactly(64 * 1024, timeout=2) == sent[-64 * 1024 :]
            src.writer.write(b"more")
            assert await late.read_exactly(4) == b"more"

    run(story())


def test_a_listener_that_stops_reading_is_dropped_while_another_keeps_full_rate() -> None:
    async def story() -> None:
        async with relay_running(burst_bytes=0) as relay:  # the default bound: 256 KiB
            src, _ = await source(relay, "/live.mp3")
            ear, _, _ = await listener(relay, "/live.mp3")
            # The stuck listener takes almost nothing into its socket and never reads.
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.setblocking(False)
            loop = asyncio.get_running_loop()
            try:
                await loop.sock_connect(stuck, ("127.0.0.1", relay.port))
                await loop.sock_sendall(stuck, b"GET /live.mp3 HTTP/1.0\r\n\r\n")
                await until(lambda: mount_stats(relay, "/live.mp3").listeners == 2)

                sent = pattern(16 * 1024 * 1024)
                received = asyncio.create_task(ear.read_exactly(len(sent), timeout=30))

                async def push() -> None:
                    for i in range(0, len(sent), 64 * 1024):
                        src.writer.write(sent[i : i + 64 * 1024])
                        await src.writer.drain()

                await asyncio.wait_for(push(), 30)  # the source is never held back
                assert await received == sent  # every byte, in order, nothing skipped
                stats = mount_stats(relay, "/live.mp3")
                assert (stats.listeners, stats.listeners_dropped) == (1, 1)
            finally:
                stuck.close()

    run(story())


def test_wrong_password_is_401_a_busy_mount_is_403_and_an_unknown_mount_is_404() -> None:
    async def story() -> None:
        async with relay_running() as relay:
            assert (await source(relay, "/live.mp3", password="guess"))[1] == 401
            assert (await source(relay, "/live.mp3"))[1] == 200
            assert (await source(relay, "/live.mp3"))[1] == 403
            assert (await listener(relay, "/nothing-here.mp3"))[1] == 404
            assert (await source(relay, "/admin/metadata"))[1] == 403
            assert [m.mount for m in relay.stats()] == ["/live.mp3"]

    run(story())


class LiveMounts:
    """A source_auth hook as playout's: it decides for /radio-live, with Aysel's key."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str, str]] = []

    async def handles(self, mount: str) -> bool:
        return mount == "/radio-live"

    async def __call__(
        self, mount: str, user: str, password: str, address: str
    ) -> SourceGrant | None:
        self.asked.append((mount, user, password, address))
        if (mount, user, password) == ("/radio-live", "aysel", "dsk_aysels-key"):
            return SourceGrant(datetime.now(UTC) + timedelta(seconds=1))
        return None


def test_a_presenter_let_in_by_the_hook_is_disconnected_when_their_time_is_up() -> None:
    hook = LiveMounts()

    async def as_user(relay: Relay, user: str, password: str) -> tuple[Conn, int]:
        conn = await connect(
            relay,
            f"PUT /radio-live HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: {_basic(user, password)}\r\n\r\n",
        )
        status, _, _ = await conn.head()
        return conn, status

    async def story() -> None:
        async with relay_running(source_auth=hook, source_timeout=30) as relay:
            assert (await as_user(relay, "aysel", "wrong"))[1] == 401
            assert (await as_user(relay, "tural", "dsk_aysels-key"))[1] == 401
            # The source password opens the station's own mounts, not a presenter's.
            assert (await as_user(relay, "source", SOURCE_PASSWORD))[1] == 401
            assert hook.asked[-1][3] == "127.0.0.1"  # asked with the source's address
            conn, status = await as_user(relay, "aysel", "dsk_aysels-key")
            assert status == 200
            conn.writer.write(pattern(1000))
            began = asyncio.get_running_loop().time()
            assert await conn.closed_by_server(timeout=5)  # cut off at the end of the slot
            assert 0.5 < asyncio.get_running_loop().time() - began < 3
            # The station's own encoder never asks the hook: the source password suffices.
            hook.asked.clear()
            assert (await source(relay, "/radio.mp3"))[1] == 200
            assert hook.asked == []

    run(story())


def test_ffmpegs_expect_100_continue_is_answered_as_icecast2_answers_it() -> None:
    async def story() -> None:
        async with relay_running() as relay:
            conn = await connect(
                relay,
                "PUT /live.mp3 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Type: audio/mpeg\r\n"
                f"Authorization: {_basic('source', SOURCE_PASSWORD)}\r\n\r\n",
            )
            _, _, first = await conn.head()
            _, _, second = await conn.head()
            assert first == b"HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\n"
            assert second == b"HTTP/1.0 200 OK\r\n\r\n"
            assert mount_stats(relay, "/live.mp3").live

    run(story())


def test_an_old_ice_client_with_bare_newlines_can_broadcast() -> None:
    async def story() -> None:
        async with relay_running() as relay:
            conn = await connect(
                relay,
                f"SOURCE /old ICE/1.0\nice-password: {SOURCE_PASSWORD}\nicy-br: 64\n"
                "icy-name: Köhnə radio\n\n",
            )
            status, _, _ = await conn.head()
            assert status == 200
            info = mount_stats(relay, "/old").info
            assert (info.content_type, info.bitrate, info.name) == ("audio/mpeg", 64, "Köhnə radio")

    run(story())


def test_an_encoder_restart_within_the_grace_period_keeps_the_listeners() -> None:
    async def story() -> None:
        async with relay_running(source_grace=5.0) as relay:
            first, _ = await source(relay, "/live.mp3")
            ear, _, _ = await listener(relay, "/live.mp3")
            first.writer.write(b"before the restart")
            assert await ear.read_exactly(18) == b"before the restart"
            await first.close()
            await until(lambda: not mount_stats(relay, "/live.mp3").live)
            assert mount_stats(relay, "/live.mp3").listeners == 1

            # A player tuning in during the restart is let in, and gets the last burst.
            early, status, _ = await listener(relay, "/live.mp3")
            assert status == 200
            assert await early.read_exactly(18) == b"before the restart"

            second, status = await source(relay, "/live.mp3")
            assert status == 200  # the mount is free again: not 403
            second.writer.write(b"after")
            assert await ear.read_exactly(5) == b"after"
            assert await early.read_exactly(5) == b"after"
            assert mount_stats(relay, "/live.mp3").listeners == 2

    run(story())


def test_listeners_are_closed_when_the_source_does_not_come_back() -> None:
    async def story() -> None:
        async with relay_running(source_grace=0.2) as relay:
            src, _ = await source(relay, "/live.mp3")
            ear, _, _ = await listener(relay, "/live.mp3")
            await src.close()
            assert await ear.closed_by_server(timeout=3)
            assert relay.stats() == ()
            assert (await listener(relay, "/live.mp3"))[1] == 404

    run(story())


def test_a_silent_source_is_timed_out_like_icecast2_does() -> None:
    async def story() -> None:
        async with relay_running(source_timeout=0.2, source_grace=0) as relay:
            src, _ = await source(relay, "/live.mp3")
            assert await src.closed_by_server(timeout=3)

    run(story())


def test_a_classic_icy_listener_hears_titles_set_over_http_and_directly() -> None:
    async def story() -> None:
        async with relay_running(burst_bytes=0) as relay:
            src, _ = await source(relay, "/live.mp3")
            ear, _, headers = await listener(relay, "/live.mp3", icy=True)
            assert headers["icy-metaint"] == str(ICY_METAINT)
            icy = IcyReader.from_headers(headers)
            await update_title(relay.base_url, "/live.mp3", AZ_TITLE, "admin", ADMIN_PASSWORD)
            assert mount_stats(relay, "/live.mp3").title == AZ_TITLE
            sent = pattern(40_000)
            src.writer.write(sent)
            # metaint bytes, the title, then "no change" after every metaint bytes more.
            blocks = 40_000 // ICY_METAINT
            wire = 40_000 + len(metadata_block(AZ_TITLE)) + (blocks - 1) * len(NO_CHANGE)
            assert icy.feed(await ear.read_exactly(wire)).audio == sent
            assert icy.titles == [AZ_TITLE]

            relay.set_title("/live.mp3", "Qarabağ")  # embedded mode: no HTTP
            src.writer.write(sent)
            blocks = 80_000 // ICY_METAINT - blocks
            wire = 40_000 + len(metadata_block("Qarabağ")) + (blocks - 1) * len(NO_CHANGE)
            assert icy.feed(await ear.read_exactly(wire)).audio == sent
            assert icy.titles == [AZ_TITLE, "Qarabağ"]

    run(story())


def test_a_slower_mount_gives_title_blocks_and_a_burst_in_the_same_seconds_of_audio() -> None:
    """The low-bitrate AAC mount: a title block every 4096 bytes and half the burst, as many
    seconds at 64 kbit/s as 8192 bytes and the whole burst are at 128; the others keep
    theirs."""

    async def story() -> None:
        async with relay_running(burst_bytes=64 * 1024) as relay:
            relay.set_bitrate("/radio-64.aac", 64)
            relay.set_bitrate("/radio.aac", 128)
            low, _ = await source(relay, "/radio-64.aac")
            top, _ = await source(relay, "/radio.aac")
            sent = pattern(100_000)
            low.writer.write(sent)
            top.writer.write(sent)
            await until(lambda: [m.bytes_received for m in relay.stats()] == [len(sent), len(sent)])
            ear, _, headers = await listener(relay, "/radio-64.aac", icy=True)
            assert headers["icy-metaint"] == "4096"
            # The burst, with a block after each 4096 bytes: the title (none yet), then none
            # new.
            icy = IcyReader.from_headers(headers)
            wire = 32 * 1024 + len(metadata_block("")) + 7 * len(NO_CHANGE)
            assert icy.feed(await ear.read_exactly(wire)).audio == sent[-32 * 1024 :]
            other, _, headers = await listener(relay, "/radio.aac", icy=True)
            assert headers["icy-metaint"] == "8192"
            wire = 64 * 1024 + len(metadata_block("")) + 7 * len(NO_CHANGE)
            icy = IcyReader.from_headers(headers)
            assert icy.feed(await other.read_exactly(wire)).audio == sent[-64 * 1024 :]

    run(story())


def test_an_icy_title_cannot_inject_a_stream_url(tmp_path: Path, tools: Tools) -> None:
    """A listener's player reads every `Name='value';` in the block: a quote in a title must
    not end the title and start a StreamUrl of someone else's choosing."""
    mp3 = tone(tools.ffmpeg, tmp_path / "tone.mp3", seconds=2).read_bytes()

    async def story() -> None:
        async with relay_running(burst_bytes=0) as relay:
            src, _ = await source(relay, "/live.mp3", content_type="audio/mpeg")
            ear, _, headers = await listener(relay, "/live.mp3", icy=True)
            metaint = int(headers["icy-metaint"])
            relay.set_title("/live.mp3", INJECTING)  # as the station's title hook sets it
            src.writer.write(mp3)
            await ear.read_exactly(metaint)
            size = (await ear.read_exactly(1))[0] * 16
            fields = parse_metadata(await ear.read_exactly(size))
            assert list(fields) == ["StreamTitle"]
            assert fields["StreamTitle"] == "Qız qalası’;StreamUrl=’http://evil.example/’; "

            # Over the admin API (as to icecast2, which frames titles as they come).
            await update_title(relay.base_url, "/live.mp3", INJECTING, "admin", ADMIN_PASSWORD)
            assert mount_stats(relay, "/live.mp3").title == fields["StreamTitle"]

    run(story())


# The stories below hold batches for 60 s, so only what they do sends one out.
HELD = {"batch_interval": 60.0, "batch_bytes": 1024 * 1024, "max_queue_bytes": 2 * 1024 * 1024}


def test_a_title_change_and_the_sources_end_send_out_what_is_waiting() -> None:
    async def story() -> None:
        async with relay_running(burst_bytes=0, **HELD) as relay:
            src, _ = await source(relay, "/live.mp3")
            ear, _, headers = await listener(relay, "/live.mp3", icy=True)
            icy = IcyReader.from_headers(headers)
            relay.set_title("/live.mp3", "Sarı gəlin")
            before, after = pattern(20_000), pattern(20_000, seed=3)
            src.writer.write(before)
            await until(lambda: mount_stats(relay, "/live.mp3").bytes_received == 20_000)
            # Its boundaries were received before the change: the old title, then none.
            relay.set_title("/live.mp3", AZ_TITLE)
            blocks = 20_000 // ICY_METAINT
            wire = 20_000 + len(metadata_block("Sarı gəlin")) + (blocks - 1) * len(NO_CHANGE)
            first = await ear.read_exactly(wire)
            assert icy.feed(first).audio == before and icy.titles == ["Sarı gəlin"]

            src.writer.write(after)
            await until(lambda: mount_stats(relay, "/live.mp3").bytes_received == 40_000)
            await src.close()  # nothing more will come: the batch goes out now, not in 60 s
            blocks = 40_000 // ICY_METAINT - blocks
            wire = 20_000 + len(metadata_block(AZ_TITLE)) + (blocks - 1) * len(NO_CHANGE)
            second = await ear.read_exactly(wire, timeout=5)
            assert icy.feed(second).audio == after
            assert icy.titles == ["Sarı gəlin", AZ_TITLE]

    run(story())


@pytest.mark.parametrize("burst_bytes", [8000, 2000], ids=["burst-longer", "burst-inside"])
def test_a_listener_joining_mid_batch_gets_the_exact_burst_then_the_batch(
    burst_bytes: int,
) -> None:
    async def story() -> None:
        async with relay_running(burst_bytes=burst_bytes, **HELD) as relay:
            src, _ = await source(relay, "/live.mp3")
            early, _, _ = await listener(relay, "/live.mp3")
            sent, waiting = pattern(12_000), pattern(3000, seed=5)
            src.writer.write(sent)
            await until(lambda: mount_stats(relay, "/live.mp3").bytes_received == 12_000)
            relay.set_title("/live.mp3", AZ_TITLE)  # sends the batch out
            assert await early.read_exactly(12_000, timeout=2) == sent
            src.writer.write(waiting)
            await until(lambda: mount_stats(relay, "/live.mp3").bytes_received == 15_000)

            late, _, _ = await listener(relay, "/live.mp3")
            burst = (sent + waiting)[-burst_bytes:]
            already_out = max(0, burst_bytes - len(waiting))
            if already_out:  # the part the others have comes at once, not with the batch
                assert await late.read_exactly(already_out, timeout=2) == burst[:already_out]
            await relay.stop()  # the batch still goes out first
            assert await early.read_exactly(3000) == waiting
            assert await late.read_exactly(burst_bytes - already_out) == burst[already_out:]
            assert await late.closed_by_server()

    run(story())


def test_title_updates_are_refused_with_reasons_an_operator_understands() -> None:
    async def story() -> None:
        async with relay_running() as relay:
            await source(relay, "/live.mp3")
            # The source's own credentials may set the title too, as with icecast2.
            await update_title(relay.base_url, "/live.mp3", "ok", "source", SOURCE_PASSWORD)
            with pytest.raises(IcecastAdminError, match="refused the credentials"):
                await update_title(relay.base_url, "/live.mp3", "x", "admin", "wrong")
            with pytest.raises(IcecastAdminError, match="Source does not exist"):
                await update_title(relay.base_url, "/none.mp3", "x", "admin", ADMIN_PASSWORD)
            with pytest.raises(IcecastAdminError, match="could not set the title"):
                await update_title(f"http://127.0.0.1:{free_port()}", "/live.mp3", "x", "a", "b")

    run(story())


def test_status_json_counts_listeners_and_shows_the_title() -> None:
    async def story() -> None:
        async with relay_running(admin_email="admin@diaspor.fm", location="Bakı") as relay:
            await source(relay, "/live.mp3", extra="Ice-Bitrate: 128\r\n")
            ears = [(await listener(relay, "/live.mp3"))[0] for _ in range(3)]
            await ears[0].close()
            await until(lambda: mount_stats(relay, "/live.mp3").listeners == 2)
            relay.set_title("/live.mp3", AZ_TITLE)
            conn = await connect(relay, "GET /status-json.xsl HTTP/1.0\r\n\r\n")
            status, headers, _ = await conn.head()
            body = await asyncio.wait_for(conn.reader.read(), 5)
            assert status == 200 and headers["content-type"].startswith("application/json")
            stats = json.loads(body)["icestats"]
            assert stats["admin"] == "admin@diaspor.fm" and stats["host"] == "localhost"
            [mount] = stats["source"]
            assert mount["listenurl"] == f"http://localhost:{relay.port}/live.mp3"
            assert (mount["listeners"], mount["listener_peak"]) == (2, 3)
            assert (mount["title"], mount["bitrate"], mount["genre"]) == (AZ_TITLE, 128, "Muğam")

    run(story())


def test_stopping_the_relay_closes_every_connection() -> None:
    async def story() -> None:
        clock = SimulatedClock(datetime(2026, 5, 28, tzinfo=UTC))
        async with relay_running(clock=clock) as relay:
            src, _ = await source(relay, "/live.mp3")
            ear, _, _ = await listener(relay, "/live.mp3")
            idle = await connect(relay, "GET /live.mp3 HTTP/1.0\r\n")  # an unfinished request
            await relay.stop()
            for conn in (src, ear, idle):
                assert await conn.closed_by_server()
            assert relay.stats() == ()

    run(story())


def test_listeners_past_the_caps_get_a_clear_refusal_and_the_rest_keep_listening() -> None:
    """One address opening listener after listener is stopped at its cap, and the relay at
    its total; each refusal is a 503 with Retry-After, and those let in keep the stream."""

    async def story() -> None:
        async with relay_running(max_listeners=6, max_listeners_per_address=4) as relay:
            src, _ = await source(relay, "/live.mp3")
            src.writer.write(pattern(1000))
            ears = []
            for _ in range(4):
                conn, status, _ = await listener(relay, "/live.mp3")
                assert status == 200
                ears.append(conn)
            conn, status, headers = await listener(relay, "/live.mp3")
            assert status == 503 and headers.get("retry-after")
            assert await conn.closed_by_server()
            assert mount_stats(relay, "/live.mp3").listeners == 4
            # One listener leaves: its place is free again for that address.
            await ears.pop().close()
            await until(lambda: mount_stats(relay, "/live.mp3").listeners == 3)
            _, status, _ = await listener(relay, "/live.mp3")
            assert status == 200
            relay.max_listeners_per_address = 100
            for _ in range(2):
                _, status, _ = await listener(relay, "/live.mp3")
                assert status == 200
            _, status, _ = await listener(relay, "/live.mp3")  # the seventh: over the total
            assert status == 503
            src.writer.write(b"still on air")
            for ear in ears:
                got = await ear.read_exactly(1000 + 12)
                assert got.endswith(b"still on air")

    run(story())
