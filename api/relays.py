"""Which of the radio's regional relays a listener is offered, and in which order: by the
listener's country, from `?country=`, else from the header the trusted edge in front of the
API sets (DIASPOR_COUNTRY_HEADER, believed only from DIASPOR_TRUSTED_PROXIES)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, Query, Request, Response

from api.auth import ServicesDep
from api.problems import Problem
from api.proxies import via_trusted_proxy
from station.settings import COUNTRY_CODE


class RelayChoice(StrEnum):
    """How many relays a channel lists: all of them (nearest first), or only the nearest."""

    all = "all"
    nearest = "nearest"


@dataclass(frozen=True, slots=True)
class RelaysWanted:
    country: str | None  # ISO 3166-1 alpha-2, upper case; None: not known
    nearest_only: bool


async def relays_wanted(
    request: Request,
    response: Response,
    svc: ServicesDep,
    country: Annotated[
        str | None,
        Query(
            max_length=64,
            description="the listener's country, ISO 3166-1 alpha-2 (any case): the radio "
            "relays serving it are listed first. Default: the country the station's edge "
            "(CDN) says the request comes from, where it says one; else the relays' own order",
            examples=["TR"],
            # Documented, checked below: a value that breaks it is an `invalid-country`.
            json_schema_extra={"pattern": "^[A-Za-z]{2}$"},
        ),
    ] = None,
    relays: Annotated[
        RelayChoice,
        Query(description="`all` the radio relays, nearest first, or only the `nearest`"),
    ] = RelayChoice.all,
) -> RelaysWanted:
    s = svc.settings
    header = s.country_header
    if header and s.radio_relays:
        # What a cache keeps for one country must not be sent to another.
        response.headers.add_vary_header(header)
    if country is not None:
        if not COUNTRY_CODE.fullmatch(country):
            raise Problem(
                422,
                "Invalid request",
                f"{country!r} is not a country code: send its ISO 3166-1 alpha-2 code, two "
                "letters such as TR, DE or US",
                "invalid-country",
            )
        found: str | None = country.upper()
    else:
        found = edge_country(request, header)
    return RelaysWanted(found, relays is RelayChoice.nearest)


def edge_country(request: Request, header: str) -> str | None:
    """The country the trusted edge names in `header`; None when none is configured, the
    request did not come through a trusted proxy, or the value is not two letters (such as
    Cloudflare's T1 for Tor; its XX, unknown, is simply in no relay's list)."""
    if not header or not via_trusted_proxy(request):
        return None
    value = request.headers.get(header, "").strip()
    return value.upper() if COUNTRY_CODE.fullmatch(value) else None


RelaysDep = Annotated[RelaysWanted, Depends(relays_wanted)]
