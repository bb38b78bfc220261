"""File names that editors upload: what we accept, and how a title is read from one."""

from __future__ import annotations

import re
import unicodedata

from media.containers import SUFFIXES
from media.errors import InvalidFileName, NotMedia

MAX_NAME_BYTES = 255


def check_file_name(name: str) -> str:
    """Return the name as given if it is a plain file name; raise InvalidFileName otherwise.

    We refuse rather than repair: a name with `../` or control characters is a mistake or an
    attack, and the editor should know which file was refused and why.
    """
    if not name or not name.strip():
        raise InvalidFileName("the file has no name")
    if "/" in name or "\\" in name:
        raise InvalidFileName(f"{name!r} contains a path separator; send a plain file name")
    if name in (".", "..") or name.startswith(".."):
        raise InvalidFileName(f"{name!r} is not a file name")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise InvalidFileName(f"{name!r} contains control characters")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidFileName(f"the file name is longer than {MAX_NAME_BYTES} bytes")
    return unicodedata.normalize("NFC", name)


def media_suffix(name: str) -> str:
    """The lower-cased suffix of a file name, if it is one of a container the library accepts.

    Checked before anything is stored: an `.m3u8` playlist or an `.ffconcat` script is a list
    of other files, not media, and a stored key never carries a suffix we did not choose.
    """
    stem, dot, ext = name.rpartition(".")
    suffix = f".{ext.lower()}" if dot and stem else ""
    if suffix not in SUFFIXES:
        what = f"a {suffix} file" if suffix not in ("", ".") else "a file without a suffix"
        accepted = ", ".join(sorted(SUFFIXES))
        raise NotMedia(
            f"{name}: {what} is not an audio or video file the library accepts ({accepted})"
        )
    return suffix


def title_from_name(name: str) -> str:
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return re.sub(r"[_\s]+", " ", stem).strip() or name


ISO639_2_TO_1 = {
    "aze": "az",
    "eng": "en",
    "rus": "ru",
    "tur": "tr",
    "deu": "de",
    "ger": "de",
    "fra": "fr",
    "fre": "fr",
    "per": "fa",
    "fas": "fa",
    "geo": "ka",
    "kat": "ka",
    "ukr": "uk",
}


def language_code(code: str | None) -> str | None:
    """ISO 639-1 where we know it ("aze" -> "az"); other codes pass through lower-cased."""
    if not code:
        return None
    c = code.strip().lower()
    if c in ("und", "unk", ""):
        return None
    return ISO639_2_TO_1.get(c, c)
