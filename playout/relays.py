"""The radio's regional relays as a listener is offered them: nearest first, each with the
channel's mounts at its own base URL.

A relay (an icecast2 pulling every mount from the master) serves a mount at the same path as
the master, so its streams are the channel's mounts on the relay's base; nothing is read back
from the URLs playout published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from playout.radio_channel import Mount, Streams, mount_streams
from station.settings import RadioRelay


@dataclass(frozen=True, slots=True)
class RelayStreams:
    """One relay as a channel lists it."""

    name: str
    region: str
    streams: Streams


def nearest_first(relays: Sequence[RadioRelay], country: str | None) -> list[RadioRelay]:
    """Those serving `country` first, then the others; each group keeps the declared order
    (the operator's preference among equals). With no country known: the declared order."""
    if country is None:
        return list(relays)
    return sorted(relays, key=lambda r: country not in r.countries)  # sorted() is stable


def relay_streams(
    relays: Sequence[RadioRelay],
    mounts: Sequence[Mount],
    country: str | None,
    *,
    nearest_only: bool = False,
) -> list[RelayStreams]:
    """The channel's `mounts` on each relay, nearest to `country` first; only the nearest
    with `nearest_only`."""
    ordered = nearest_first(relays, country)
    if nearest_only:
        ordered = ordered[:1]
    return [RelayStreams(r.name, r.region, mount_streams(r.url, mounts)) for r in ordered]
