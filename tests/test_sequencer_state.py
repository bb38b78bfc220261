"""The sequencer's restart state (playout/sequencer_state.py) reads back exactly as it was
written, through a live stretch and the schedule's return; a state of another version is
refused rather than guessed at."""

from __future__ import annotations

from pathlib import Path

import pytest

from media.packaged import asset_prefix, slate_prefix
from media.storage import LocalStorage
from playout import sequencer_state
from playout.tv_line import SequencerError
from tests.support import run
from tests.test_sequencer import CH, LIVE, SUBS, T0, asset, put_package, slate_package
from tests.test_tv_live import ON_AIR, live_sequencer, stored_feed


def test_every_saved_state_reads_back_as_it_was_written(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "store")
    put_package(storage, slate_prefix(CH), slate_package())
    put_package(storage, asset_prefix(12), asset(12, [6000, 6000, 6000, 2000], SUBS[:1]))
    put_package(storage, asset_prefix(13), asset(13, [6000, 6000, 3520]))
    feed = stored_feed(storage, ON_AIR)
    seq = live_sequencer(storage, feed)
    saved: list[bytes] = []

    def keep() -> None:
        data = storage.path(f"{LIVE}/sequencer.json").read_bytes()
        if not saved or saved[-1] != data:
            saved.append(data)

    async def story() -> None:
        for t in range(T0 + 1000, T0 + 100_000, 200):
            feed.now = t
            await seq.step(t)
            keep()

    run(story())
    states = [sequencer_state.loads(data) for data in saved]
    assert any(s["live"]["on"] for s in states)  # live, and the schedule after it
    assert any(r["after_live"] for s in states for r in s["runs"])
    for raw in states:
        state = sequencer_state.from_json(raw)
        assert sequencer_state.to_json(state, raw["channel"], raw["saved_at_ms"]) == raw
        assert sequencer_state.dumps(raw) in saved


def test_a_state_of_another_version_is_refused() -> None:
    sequencer_state.check_version({"version": sequencer_state.STATE_VERSION}, "k")
    with pytest.raises(SequencerError, match="has version 2"):
        sequencer_state.check_version({"version": 2}, "k")
