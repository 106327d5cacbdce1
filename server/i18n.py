"""The message catalogues: every word the page shows, one catalogue per language.

``static/i18n/<lang>.json`` is a flat object of key -> text. ``{name}`` in a text is a
placeholder filled in by the page (``t(key, {name: ...})`` in ``static/js/i18n.js``); a key
ending in ``.one`` / ``.other`` is a plural pair chosen by ``tn(key, n)``. English
(``en.json``) is the reference: every other language must have exactly its keys and, per
key, the same placeholders. A catalogue that breaks this is refused at start-up with its
file and key named (``CatalogueError``), as a malformed lesson file is.

Extra words (the lessons' captions and questions, ``server/lessons.py``) are merged in with
``Catalogues.add``, so the page still receives one catalogue per language.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

DEFAULT_LANG = "en"
NAMES = {"en": "English", "de": "Deutsch"}  # each language's name in itself, for the menu
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]*(\.[a-z0-9][a-z0-9_-]*)*$")


class CatalogueError(ValueError):
    """A catalogue file (or merged words) that cannot be used, with what and where."""


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


class Catalogues:
    """All languages' catalogues, loaded and checked once."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.by_lang: dict[str, dict[str, str]] = {}
        files = sorted(self.folder.glob("*.json"))
        for path in files:
            lang = path.stem
            if not re.fullmatch(r"[a-z]{2}", lang):
                continue
            self.by_lang[lang] = self._load(path)
        if DEFAULT_LANG not in self.by_lang:
            raise CatalogueError(
                f"static/i18n/{DEFAULT_LANG}.json: missing (English is the reference)")
        self._check()

    @staticmethod
    def _load(path: Path) -> dict[str, str]:
        where = f"static/i18n/{path.name}"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CatalogueError(f"{where}: not readable JSON ({error})") from None
        if not isinstance(data, dict):
            raise CatalogueError(f"{where}: must be an object of key -> text")
        for key, text in data.items():
            if not _KEY.match(key):
                raise CatalogueError(f"{where}: key {key!r} is not a dotted lower-case name")
            if not isinstance(text, str) or not text.strip():
                raise CatalogueError(f"{where}: key {key!r} must be a non-empty string")
        return data

    def _check(self) -> None:
        ref = self.by_lang[DEFAULT_LANG]
        for lang, cat in self.by_lang.items():
            if lang == DEFAULT_LANG:
                continue
            where = f"static/i18n/{lang}.json"
            missing = sorted(set(ref) - set(cat))
            extra = sorted(set(cat) - set(ref))
            if missing:
                more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
                raise CatalogueError(f"{where}: missing key {missing[0]!r}{more}")
            if extra:
                more = f" and {len(extra) - 1} more" if len(extra) > 1 else ""
                raise CatalogueError(f"{where}: key {extra[0]!r} is not in en.json{more}")
            for key, text in ref.items():
                if placeholders(cat[key]) != placeholders(text):
                    raise CatalogueError(
                        f"{where}: key {key!r} has placeholders {sorted(placeholders(cat[key]))}, "
                        f"en.json has {sorted(placeholders(text))}")

    @property
    def langs(self) -> list[str]:
        return sorted(self.by_lang)

    def add(self, lang: str, words: dict[str, str]) -> None:
        """Merge extra words (lessons) into one language's catalogue."""
        self.by_lang.setdefault(lang, {}).update(words)

    def pick(self, asked: str | None) -> tuple[str, str | None]:
        """The language to serve for ``?lang=`` and, if the ask was bad, why (English then)."""
        if asked is None or asked == "":
            return DEFAULT_LANG, None
        if asked in self.by_lang:
            return asked, None
        shown = asked[:20]
        return DEFAULT_LANG, (f"lang={shown!r} is not a language of this page "
                              f"(it has {', '.join(self.langs)}): showing English")

    def catalogue(self, lang: str) -> dict[str, str]:
        return self.by_lang[lang]

    def translator(self, lang: str):
        """``t(key, **params)`` for templates; a missing key shows as the key itself."""
        cat = self.by_lang[lang]

        def t(key: str, **params) -> str:
            text = cat.get(key, key)
            return _PLACEHOLDER.sub(lambda m: str(params.get(m.group(1), m.group(0))), text)

        return t
