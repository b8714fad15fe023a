"""The .po catalogues are complete twins, and text() fills messages or fails loudly."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from i18n import LANGUAGES, CatalogueError, MessageParamsError, UnknownMessage, text
from i18n.catalogue import read_catalogues

LOCALES = Path(__file__).resolve().parents[2] / "i18n" / "locales"
# Discord refuses descriptions and choice names over 100 characters when commands are synced.
DISCORD_PICKER_LIMIT = 100


def po_paths(language: str) -> list[Path]:
    return sorted((LOCALES / language / "LC_MESSAGES").glob("*.po"))


def read(path: Path, language: str, **options):
    with path.open("rb") as po_file:
        return read_po(po_file, locale=language, **options)


def entries(language: str) -> dict[str, str]:
    return {
        m.id: m.string
        for path in po_paths(language)
        for m in read(path, language, abort_invalid=True)
        if m.id
    }


def test_both_languages_split_their_messages_into_the_same_files():
    names = {language: [path.name for path in po_paths(language)] for language in LANGUAGES}
    assert "kobo.po" in names["en"]
    assert names["ja"] == names["en"]


def field_names(template: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}


def test_every_key_is_in_both_languages():
    keys = {language: set(entries(language)) for language in LANGUAGES}
    assert keys["ja"] - keys["en"] == set(), "in Japanese only"
    assert keys["en"] - keys["ja"] == set(), "in English only"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated_and_none_is_fuzzy(language):
    for path in po_paths(language):
        catalog = read(path, language, abort_invalid=True)
        assert [m.id for m in catalog if m.id and not m.string.strip()] == [], path.name
        assert [m.id for m in catalog if m.id and m.fuzzy] == [], path.name
        assert list(catalog.obsolete) == [], path.name


def test_both_languages_use_the_same_placeholders():
    english, japanese = entries("en"), entries("ja")
    differ = {
        key: (field_names(english[key]), field_names(japanese[key]))
        for key in english.keys() & japanese.keys()
        if field_names(english[key]) != field_names(japanese[key])
    }
    assert differ == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_placeholders_are_plain_names(language):
    fields = {field for message in entries(language).values() for field in field_names(message)}
    assert fields  # the check below must look at something
    assert [field for field in fields if not field.isidentifier()] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_babel_reads_the_files_without_a_warning(language, capsys):
    for path in po_paths(language):
        catalog = read(path, language)  # without abort_invalid Babel warns of a bad line
        assert capsys.readouterr().out == "", path.name
        assert str(catalog.locale) == language
        assert catalog.mime_headers and dict(catalog.mime_headers)["Language"] == language
        assert list(catalog.check()) == [], path.name


# Babel reads an unterminated string or words after the closing quote without a warning,
# keeping a mangled text; so every line must be a comment, blank, or a keyword and/or a string.
PO_LINE = re.compile(r'#.*|\s*|((msgctxt|msgid|msgstr) )?"([^"\\]|\\.)*"')


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_line_is_well_formed(language):
    for path in po_paths(language):
        lines = path.read_text("utf-8").splitlines()
        bad = [(n, line) for n, line in enumerate(lines, 1) if not PO_LINE.fullmatch(line)]
        assert bad == [], path.name


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_key_is_written_twice(language):
    # Babel quietly merges duplicates, so one of two differing texts would be lost unseen;
    # and a key in two files would have two texts.
    ids = [
        key
        for path in po_paths(language)
        for key in re.findall(r'^msgid "(.+)"$', path.read_text("utf-8"), re.MULTILINE)
    ]
    assert [key for key in set(ids) if ids.count(key) > 1] == []


def test_message_ids_are_keys_not_sentences():
    assert [
        key for key in entries("en") if not re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", key)
    ] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_command_picker_texts_fit_in_discord(language):
    too_long = {
        key: len(message)
        for key, message in entries(language).items()
        if key.startswith(("command.", "choice.")) and len(message) > DISCORD_PICKER_LIMIT
    }
    assert too_long == {}


def test_text_fills_named_placeholders_in_each_language():
    assert text("place.cell", "ja", row=3, column="B") == "3行目 B列"
    assert text("place.cell", "en", row=3, column="B") == "row 3, column B"
    assert text("error.not_staff", "ja", command="train") == (
        "/train はワークショップのスタッフだけが使えるコマンドです。"
    )


def test_values_are_inserted_as_they_are_never_formatted_again():
    # A file name or user text full of braces must not be read as placeholders.
    assert text("error.not_staff", "en", command="{command} {0}") == (
        "Only workshop staff can use /{command} {0}."
    )


def test_an_unknown_key_raises_a_key_error_naming_it():
    with pytest.raises(UnknownMessage, match=r"sheet\.no_such_message") as raised:
        text("sheet.no_such_message", "ja")
    assert isinstance(raised.value, KeyError)


def test_a_missing_param_raises_naming_what_the_message_takes():
    with pytest.raises(MessageParamsError, match=r"takes \['column', 'row'\], was given \['row'\]"):
        text("place.cell", "en", row=3)


def test_an_unexpected_param_raises():
    with pytest.raises(MessageParamsError, match="was given"):
        text("error.unexpected", "en", detail="a typo'd name")


def test_a_language_without_a_catalogue_is_refused():
    with pytest.raises(ValueError, match="'fr'"):
        text("error.unexpected", "fr")  # type: ignore[arg-type]


def test_a_key_in_two_files_of_a_language_is_refused_when_read(tmp_path):
    header = 'msgid ""\nmsgstr ""\n"Language: en\\n"\n\n'
    (tmp_path / "a.po").write_text(header + 'msgid "x.one"\nmsgstr "one"\n', encoding="utf-8")
    (tmp_path / "b.po").write_text(header + 'msgid "x.one"\nmsgstr "uno"\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"'x\.one' is in a\.po already"):
        read_catalogues(sorted(tmp_path.iterdir()), "en")


# A Japanese text has kana or kanji; an entry made only of values and symbols (e.g. "{row} /
# {pages}" or "`{model}`") has nothing to translate. Anything else in the Japanese catalogue is
# English left untranslated.
JAPANESE_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")
PLACEHOLDER = re.compile(r"\{\w+\}")
LATIN_LETTER = re.compile(r"[A-Za-z]")


def test_no_japanese_message_is_left_in_english():
    untranslated = {
        key: message
        for key, message in entries("ja").items()
        if not JAPANESE_SCRIPT.search(message) and LATIN_LETTER.search(PLACEHOLDER.sub("", message))
    }
    assert untranslated == {}
