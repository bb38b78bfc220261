"""HTML made from parts, escaped by construction: any text is escaped wherever it is put, in
an element or in an attribute, and only markup made here passes through as it is."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TypeAlias

VOID = frozenset({"meta", "link", "img", "br", "source", "track", "input"})


class Html(str):
    """Markup made by `el` or `join`: put in a page as it is."""

    __slots__ = ()


Child: TypeAlias = "str | int | Sequence[Child] | None"
Attr: TypeAlias = str | int | bool | None


def join(children: Sequence[Child]) -> Html:
    """Children in a row: markup as it is, text escaped, None and False left out, lists
    flattened."""
    out: list[str] = []
    for child in children:
        if child is None or child is False:
            continue
        if isinstance(child, Html):
            out.append(child)
        elif isinstance(child, str):
            out.append(html.escape(child, quote=True))
        elif isinstance(child, int):
            out.append(str(child))
        else:
            out.append(join(child))
    return Html("".join(out))


def el(tag: str, *children: Child, **attrs: Attr) -> Html:
    """`<tag attrs>children</tag>`. An attribute named with underscores is written with
    hyphens (`aria_label`, `http_equiv`; a trailing one is dropped: `class_`); True writes
    it bare, None and False leave it out."""
    parts = [tag]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        name = name.rstrip("_").replace("_", "-")
        if value is True:
            parts.append(name)
        else:
            parts.append(f'{name}="{html.escape(str(value), quote=True)}"')
    start = f"<{' '.join(parts)}>"
    if tag in VOID:
        return Html(start)
    return Html(f"{start}{join(children)}</{tag}>")
