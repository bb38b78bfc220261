"""What a listener uses: player, device and operating system families from the User-Agent
header, by ua-parser (the maintained port of the uap-core rules)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

OTHER = "Other"


@dataclass(frozen=True, slots=True)
class Player:
    player: str
    device: str
    os: str


@lru_cache(maxsize=4096)
def player_of(user_agent: str) -> Player:
    """Families, each at most 64 characters; "Other" where the parser knows none."""
    if not user_agent:
        return Player(OTHER, OTHER, OTHER)
    found = parse(user_agent[:512])
    agent = found.user_agent.family if found.user_agent else OTHER
    device = found.device.family if found.device else OTHER
    system = found.os.family if found.os else OTHER
    return Player(agent[:64], device[:64], system[:64])
