"""The TV sequencer's storage: the slate and the restart state it reads when it starts, and
the state and playlists it writes after every change. Kept apart from the state machine so
that what storage may do (be away, say "no such key", hold a damaged file) is answered in one
place, and the machine only sees a slate, a state, or an error.

Only "no such key" means absent: any other storage error is raised, and the sequencer tries
the whole start or write again at its next step rather than begin a fresh line (its numbers
would go back) or lose a write.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from media import hls
from media.errors import NotFound, StorageError
from media.packaged import MANIFEST, Package, slate_prefix
from media.storage import Storage
from playout import sequencer_state
from playout.tv_line import SequencerError, Slate
from playout.tv_playlists import EMPTY_VTT, MASTER

STATE = "sequencer.json"
MPEGURL = "application/vnd.apple.mpegurl"


def load_slate(storage: Storage, channel: str) -> Slate:
    """The channel's slate, if it can fill any gap to the frame (it has a one-frame segment);
    otherwise the channel cannot be sequenced at all."""
    prefix = slate_prefix(channel)
    try:
        with storage.open(f"{prefix}/{MANIFEST}") as fh:
            package = Package.from_json(fh.read())
    except NotFound as exc:
        raise SequencerError(
            f"channel {channel} has no slate at {prefix}/{MANIFEST}: package it first"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise SequencerError(f"the slate manifest {prefix}/{MANIFEST} is invalid: {exc}") from exc
    if not package.renditions or not package.segments_ms:
        raise SequencerError(f"the slate {prefix} has no renditions or no segments")
    slate = Slate.of(prefix, package)
    if 1 not in slate.by_frames:
        raise SequencerError(
            f"the slate {prefix} has no one-frame segment: gaps cannot be filled to the frame"
        )
    return slate


def read_state(storage: Storage, prefix: str) -> dict[str, Any] | None:
    """The state saved in `prefix`, None if there is none. One that cannot be read is an
    error, never taken for none."""
    key = f"{prefix}/{STATE}"
    try:
        with storage.open(key) as fh:
            raw = sequencer_state.loads(fh.read())
    except NotFound:
        return None
    except (ValueError, StorageError) as exc:
        raise SequencerError(
            f"the sequencer state {key} cannot be read ({exc}); the live playlists' "
            "numbers would go back if it started afresh: repair or remove it knowingly"
        ) from exc
    sequencer_state.check_version(raw, key)
    return raw


def write(
    storage: Storage, prefix: str, state: bytes, playlists: Iterable[tuple[str, str]]
) -> None:
    """State first, then the playlists (name, text): a crash between them leaves a state that
    is ahead of the playlists, never behind, so numbers never go back. The state is flushed
    to disk; the playlists are not forced (a flush per playlist per segment was the largest
    part of the sequencer's cost): they are whole for readers either way, and are written
    again from the state at every start."""
    storage.put_bytes(f"{prefix}/{STATE}", state, "application/json")
    for name, text in playlists:
        storage.put_bytes(f"{prefix}/{name}", text.encode(), MPEGURL, durable=False)


def write_static(storage: Storage, prefix: str, master: str, subtitles: bool) -> None:
    """The master playlist (only when it changed: players fetch it once) and, for a channel
    with subtitles, the empty subtitle segment that stands in for a language an item does
    not have."""
    data = master.encode()
    key = f"{prefix}/{MASTER}"
    try:
        with storage.open(key) as fh:
            same = fh.read() == data
    except NotFound:
        same = False
    if not same:
        storage.put_bytes(key, data, MPEGURL)
    if subtitles and not storage.exists(f"{prefix}/{EMPTY_VTT}"):
        storage.put_bytes(f"{prefix}/{EMPTY_VTT}", hls.EMPTY_VTT, "text/vtt")
