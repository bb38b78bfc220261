"""The cells of a CSV row the API exports (the as-run log, audience reports), safe to open in a
spreadsheet: a text that a spreadsheet would take for a formula (it begins with =, +, -, @, a
tab or a carriage return: a title an editor typed, a player's name from a User-Agent) is
written with a leading apostrophe, which shows it as the text it is. Numbers stay numbers;
none is an empty cell."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def cells(item: Mapping[str, Any], columns: Sequence[str]) -> list[Any]:
    return [cell(item[c]) for c in columns]
