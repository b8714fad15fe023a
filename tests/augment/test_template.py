"""The workshop's sheet template: what it holds, that the committed copies are current, and
that a filled-in template is read by the same reader as /augment."""

from __future__ import annotations

from pathlib import Path

import pytest

from augment.read_sheet import ReadLimits, read_sheet
from augment.template import DATA_SHEET, WRITING_ROWS, template_xlsx
from i18n import text
from tests.augment.template_sheets import contents, filled

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = {
    "ja": ROOT / "templates" / "kobo-template.xlsx",
    "en": ROOT / "templates" / "kobo-template-en.xlsx",
}


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_committed_template_is_what_kobo_builds_now(language):
    committed = COMMITTED[language]
    assert contents(committed.read_bytes()) == contents(template_xlsx(language)), (
        f"{committed.relative_to(ROOT)} is out of date: run "
        f"python -m bot template {committed.relative_to(ROOT)} --language {language}"
    )


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_template_has_a_header_two_examples_and_room_to_write(language):
    workbook = contents(template_xlsx(language))
    assert workbook["active"] == DATA_SHEET
    data = workbook["sheets"][DATA_SHEET]
    header = [text(f"template.header.{c}", language) for c in ("system", "user", "assistant")]
    assert [data["values"][f"{c}1"] for c in "ABC"] == header
    assert data["bold"] == ["A1", "B1", "C1"]
    assert sorted(data["values"]) == ["A1", "A2", "A3", "B1", "B2", "B3", "C1", "C2", "C3"]
    assert data["values"]["B2"] == text("template.example_1.user", language)
    assert data["frozen"] == "A2"  # the header stays in view
    last = WRITING_ROWS + 1
    assert WRITING_ROWS >= 200
    assert data["wrapped"] == sorted(f"{c}{r}" for c in "ABC" for r in range(2, last + 1))
    assert {f"A{last}", f"C{last}"} <= set(data["bordered"])
    assert set(data["widths"]) == {"A", "B", "C"} and min(data["widths"].values()) >= 30


def test_the_japanese_template_explains_itself_in_japanese():
    workbook = contents(template_xlsx("ja"))
    assert list(workbook["sheets"]) == [DATA_SHEET, "使い方"]
    guide = "\n".join(workbook["sheets"]["使い方"]["values"].values())
    assert (
        "A列「システム」" in guide and "B列「ユーザー」" in guide and "C列「アシスタント」" in guide
    )
    assert "10行" in guide  # how many rows are enough
    assert "/augment" in guide and "/train" in guide and "/assign" in guide  # what comes next


@pytest.mark.parametrize("language", ["ja", "en"])
def test_a_filled_in_template_reads_like_any_sheet(language):
    # The headers are the template's own, in its language (システム / ユーザー / アシスタント).
    rows = [(None, f"質問 {n}", f"答え {n}") for n in range(1, 11)]
    data = filled(template_xlsx(language), rows)
    result = read_sheet(data, "kobo-template.xlsx", default_system="既定", limits=ReadLimits())
    assert result.skipped == []
    assert len(result.examples) == 12  # the two examples and ten new rows
    first, last = result.examples[0], result.examples[-1]
    assert first.content_of("user") == text("template.example_1.user", language)
    assert first.content_of("system") == text("template.example_1.system", language)
    turns = [last.content_of(role) for role in ("system", "user", "assistant")]
    assert turns == ["既定", "質問 10", "答え 10"]


@pytest.mark.parametrize("language", ["ja", "en"])
def test_the_guide_describes_the_local_path_the_shell_and_when_robots_pick_up_a_model(language):
    workbook = contents(template_xlsx(language))
    guide = "\n".join(workbook["sheets"][text("template.sheet.guide", language)]["values"].values())
    assert "OpenAI" not in guide  # training is on kobo's own computer by default
    for shell in ("python -m bot augment", "python -m bot train", "python -m bot robots assign"):
        assert shell in guide
    next_sentence = {"ja": "次の一言から", "en": "from its next sentence"}[language]
    assert next_sentence in guide
    assert {"ja": "クラウドのアカウントはいりません", "en": "no cloud account needed"}[
        language
    ] in guide
