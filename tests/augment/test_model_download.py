"""The first bert run downloads the model from the Hub: how far it got is reported meanwhile.

The real huggingface_hub and transformers download from a fake Hub on 127.0.0.1 that holds the
weights half-way until the test has looked.
"""

from __future__ import annotations

import asyncio

import pytest

from augment.fill_mask import clear_cache, load_fill_mask
from augment.job import ModelDownload
from tests.augment.conftest import JAPANESE_RIGGED
from tests.augment.models import build_model, japanese_tokenizer
from tests.fakes.huggingface import FakeHub

REPO = "kobo-tests/tiny-bert"


@pytest.fixture
async def hub(tmp_path, monkeypatch):
    folder = tmp_path / "model"
    build_model(folder, japanese_tokenizer(folder), rigged=JAPANESE_RIGGED)
    async with FakeHub(REPO, folder) as fake:
        fake.use_in(monkeypatch, tmp_path / "hf-cache")
        yield fake
    clear_cache()


async def test_a_hub_model_reports_its_download_while_it_arrives(hub):
    hub.hold("model.safetensors")
    sizes: list[int] = []
    loading = asyncio.create_task(
        asyncio.to_thread(load_fill_mask, REPO, batch_size=4, on_download=sizes.append)
    )
    await asyncio.wait_for(hub.halfway(), 60)
    # Reported at once, before any file arrived, so a person sees the download begin.
    assert sizes and sizes[0] == 0
    hub.release()
    model = await loading
    assert model.mask_token == "[MASK]"
    assert sizes == sorted(sizes)
    assert "GET /kobo-tests/tiny-bert/resolve/" in "\n".join(hub.requests)


async def test_a_cached_model_loads_without_a_download_report(hub):
    await asyncio.to_thread(load_fill_mask, REPO, batch_size=4)  # now in the cache
    clear_cache()
    sizes: list[int] = []
    await asyncio.to_thread(load_fill_mask, REPO, batch_size=4, on_download=sizes.append)
    assert sizes == []


def test_download_progress_reads_in_megabytes_in_both_languages():
    assert ModelDownload(12_345_678).message.render("ja") == (
        "モデルをダウンロードしています… (12.3 MB)"
    )
    assert ModelDownload(0).message.render("en") == "Downloading the model… (0.0 MB)"
    assert ModelDownload(440_000_000).message.render("en") == "Downloading the model… (440 MB)"
