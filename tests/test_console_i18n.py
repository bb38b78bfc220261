"""The console's words, without a browser: every key its JavaScript asks for is in its
catalogue in Azerbaijani, English and Russian; no catalogue has an empty entry; and the page
itself (index.html) holds no words of its own, only markup that the catalogues fill."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

CONSOLE = Path(__file__).resolve().parent.parent / "api" / "static" / "console"
LANGS = ("az", "en", "ru")
# t("library.upload") and the registry's titleKey: "app.nav.library"; keys are always
# literals, so this finds every one. The part before the first dot names the catalogue.
KEY = re.compile(
    r"""(?:\bt\(\s*|\btitleKey:\s*)["']([a-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+)["']"""
)
CATALOGUES = sorted((CONSOLE / "messages").glob("*.json"))


def scripts() -> list[Path]:
    return sorted(CONSOLE.rglob("*.js"))


def keys_used(source: str) -> set[str]:
    return set(KEY.findall(source))


def catalogue(name: str) -> dict[str, dict[str, str]]:
    path = CONSOLE / "messages" / f"{name}.json"
    data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
    return data


def missing_keys(files: list[Path]) -> list[str]:
    """'file: key (lang)' for each key a script uses that its catalogue lacks."""
    missing = []
    for path in files:
        for key in sorted(keys_used(path.read_text(encoding="utf-8"))):
            name = key.split(".", 1)[0]
            if not (CONSOLE / "messages" / f"{name}.json").exists():
                missing.append(f"{path.name}: {key} (no messages/{name}.json)")
                continue
            cat = catalogue(name)
            missing += [f"{path.name}: {key} ({lang})" for lang in LANGS if key not in cat[lang]]
    return missing


def test_every_key_the_console_uses_is_in_its_catalogue_in_az_en_and_ru() -> None:
    files = scripts()
    assert len(files) >= 5 and sum(len(keys_used(p.read_text())) for p in files) > 100
    assert missing_keys(files) == []


def test_a_key_missing_from_a_catalogue_is_found(tmp_path: Path) -> None:
    """The check above can fail: a page asking for a key no catalogue has is reported."""
    page = tmp_path / "broken.js"
    page.write_text('h("p", {}, t("library.noSuchKey"), t("app.title"));\n', encoding="utf-8")
    assert missing_keys([page]) == [f"broken.js: library.noSuchKey ({lang})" for lang in LANGS]


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: p.name)
def test_a_catalogue_has_every_key_in_every_language_and_no_empty_entry(path: Path) -> None:
    cat = catalogue(path.stem)
    assert set(cat) == set(LANGS)
    assert set(cat["az"]) == set(cat["en"]) == set(cat["ru"])
    empty = [(lang, k) for lang in LANGS for k, v in cat[lang].items() if not v.strip()]
    assert empty == []
    assert all(k.startswith(path.stem + ".") for k in cat["az"]), "keys start with the page"


class TextNodes(HTMLParser):
    """Collects the text of a page outside <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.inside: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.inside.append(tag)
        for name, value in attrs:
            if name in ("title", "alt", "aria-label", "placeholder") and value:
                self.text.append(f"{tag}[{name}]={value}")

    def handle_endtag(self, tag: str) -> None:
        if self.inside and self.inside[-1] == tag:
            self.inside.pop()

    def handle_data(self, data: str) -> None:
        if not self.inside and data.strip():
            self.text.append(data.strip())


def text_of(html: str) -> list[str]:
    parser = TextNodes()
    parser.feed(html)
    return parser.text


def test_the_console_page_holds_no_words_of_its_own() -> None:
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    assert text_of(html) == []
    assert 'id="main"' in html and 'id="skip-link"' in html and "<nav" in html
    # ...and the check sees words where there are some.
    assert text_of('<p>Salam</p><script>var x = "y";</script><a aria-label="Menyu"></a>') == [
        "Salam",
        "a[aria-label]=Menyu",
    ]
