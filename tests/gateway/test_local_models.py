"""The index of local fine-tunes: exactly the trainer's DATA_DIR/models/*/kobo-model.json."""

from __future__ import annotations

import json
import logging

import pytest

from gateway.local_models import LocalModelIndex


def describe(folder, **fields):
    folder.mkdir(parents=True)
    (folder / "adapter").mkdir()
    values = {
        "model": "ft:tiny:kobo:x:aaaaaaaa",
        "job_id": folder.name,
        "base_model": "tiny",
        "base_source": "/models/tiny",
        "method": "lora",
        "chat_template": None,
        "system_prompt": "You are a robot.",
        "created_at": 1,
        **fields,
    }
    (folder / "kobo-model.json").write_text(json.dumps(values), encoding="utf-8")


async def test_finished_jobs_are_found_by_model_name(tmp_path):
    describe(tmp_path / "ftjob-a")
    index = LocalModelIndex(tmp_path, rescan_seconds=0)
    model = await index.find("ft:tiny:kobo:x:aaaaaaaa")
    assert model.folder == tmp_path / "ftjob-a"
    assert model.weights == tmp_path / "ftjob-a" / "adapter"
    assert model.system_prompt == "You are a robot."
    assert await index.find("gpt-4o-mini") is None

    describe(tmp_path / "ftjob-b", model="ft:tiny:kobo:y:bbbbbbbb")  # a job that just finished
    assert (await index.find("ft:tiny:kobo:y:bbbbbbbb")).job_id == "ftjob-b"


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"model": 'ft:"x"'}, "model:"),
        ({"method": "qlora"}, "method:"),
        ({"base_source": ""}, "base_source:"),
        ({"system_prompt": 3}, "system_prompt:"),
    ],
)
async def test_a_bad_description_is_skipped_with_a_warning_naming_the_field(
    tmp_path, caplog, fields, says
):
    describe(tmp_path / "ftjob-bad", **fields)
    describe(tmp_path / "ftjob-good", model="ft:tiny:kobo:good:cccccccc")
    index = LocalModelIndex(tmp_path, rescan_seconds=0)
    with caplog.at_level(logging.WARNING):
        assert [m.name for m in await index.all()] == ["ft:tiny:kobo:good:cccccccc"]
    assert says in caplog.text and "ftjob-bad" in caplog.text
    caplog.clear()
    await index.all()
    assert caplog.text == ""  # once per version of the file, not on every rescan


async def test_a_description_without_its_weights_is_skipped(tmp_path):
    describe(tmp_path / "ftjob-a", method="full")  # has adapter/, not full/
    assert await LocalModelIndex(tmp_path, rescan_seconds=0).all() == []
