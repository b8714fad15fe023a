from __future__ import annotations

import hashlib
import json
import logging

import pytest

from finetune.backends import make_openai_client
from finetune.plan import TrainingPlan
from finetune.service import (
    AlreadyStarted,
    FineTuneService,
    FineTuningError,
    FineTuningUnavailable,
    JobAlreadyFinished,
    PlanNotReady,
    UnknownJob,
)
from storage.database import Database
from tests.fakes.openai import FakeOpenAI
from tests.finetune.conftest import MODEL, training_jsonl


async def start(service: FineTuneService, plan: TrainingPlan, data: bytes | None = None):
    return await service.start(
        plan, data or training_jsonl(), "train.jsonl", "1001", "2002", "3003"
    )


async def test_start_uploads_creates_the_job_with_the_plans_params_and_records_it(
    service, fake: FakeOpenAI, make_plan
):
    plan = make_plan(epochs=4, suffix="kobo-class-1", seed=7)

    record = await start(service, plan)

    upload = fake.calls("POST", "/v1/files")[0].body
    assert upload["purpose"] == "fine-tune"
    assert upload["file"]["filename"] == "train.jsonl"
    assert upload["file"]["content"] == training_jsonl()
    created = fake.calls("POST", "/v1/fine_tuning/jobs")[0].body
    assert created["model"] == MODEL
    assert created["training_file"] == record.training_file_id
    assert created["suffix"] == "kobo-class-1"
    assert created["seed"] == 7
    assert created["method"]["supervised"]["hyperparameters"]["n_epochs"] == 4
    assert record.job_id in fake.jobs

    stored = await service.repository.get_job(record.job_id)
    assert stored == record
    assert (stored.status, stored.base_model, stored.requested_by) == (
        "validating_files",
        MODEL,
        "1001",
    )
    assert (stored.guild_id, stored.channel_id, stored.suffix, stored.seed) == (
        "2002",
        "3003",
        "kobo-class-1",
        7,
    )
    assert stored.estimated_tokens == plan.estimate.trained_tokens
    assert stored.estimated_cost_usd == pytest.approx(plan.estimate.usd)
    assert stored.hyperparameters["n_epochs"] == 4


async def test_auto_epochs_are_sent_as_auto(service, fake: FakeOpenAI, make_plan):
    await start(service, make_plan())
    created = fake.calls("POST", "/v1/fine_tuning/jobs")[0].body
    assert created["method"]["supervised"]["hyperparameters"]["n_epochs"] == "auto"
    assert "suffix" not in created or created["suffix"] is None


async def test_validation_file_is_uploaded_and_named_in_the_job(
    service, fake: FakeOpenAI, make_plan
):
    from finetune.models import default_model_table
    from finetune.plan import TrainingParams, prepare_plan

    validation = training_jsonl(10)
    plan = prepare_plan(
        training_jsonl(),
        training_filename="train.jsonl",
        params=TrainingParams(MODEL),
        models=default_model_table(),
        validation=validation,
    )
    record = await service.start(
        plan, training_jsonl(), "train.jsonl", "1", "2", "3", validation_bytes=validation
    )
    created = fake.calls("POST", "/v1/fine_tuning/jobs")[0].body
    assert created["validation_file"] == record.validation_file_id
    assert fake.file_contents[record.validation_file_id] == validation


async def test_a_plan_with_problems_is_refused_before_any_api_call(
    service, fake: FakeOpenAI, make_plan
):
    plan = make_plan(training_jsonl(3))
    with pytest.raises(PlanNotReady, match="needs at least 10 examples") as refused:
        await start(service, plan, training_jsonl(3))
    assert fake.requests == []
    # The first problem is said in the reader's language, like the rest of the message.
    japanese = refused.value.render("ja")
    assert "例が足りません。10件以上必要ですが、3件しかありません" in japanese


async def test_bytes_that_differ_from_the_plan_are_refused(service, fake: FakeOpenAI, make_plan):
    with pytest.raises(PlanNotReady, match="changed since the preview"):
        await start(service, make_plan(), training_jsonl(11))
    assert fake.requests == []


async def test_the_same_plan_starts_only_one_job(service, fake: FakeOpenAI, make_plan):
    plan = make_plan()
    first = await start(service, plan)
    with pytest.raises(AlreadyStarted) as info:
        await start(service, plan)
    assert info.value.job.job_id == first.job_id
    assert len(fake.jobs) == 1


async def test_openai_refusing_the_job_explains_why_and_removes_the_upload(
    service, fake: FakeOpenAI, make_plan
):
    plan = make_plan()
    fake.fail_next(1, 400, method="POST", path_prefix="/v1/fine_tuning/jobs")
    with pytest.raises(FineTuningError, match="OpenAI refused starting the fine-tune: Invalid req"):
        await start(service, plan)
    assert fake.calls("DELETE", "/v1/files")  # the orphan upload was cleaned up
    assert await service.list_jobs() == []


async def test_openai_no_longer_offering_fine_tuning_says_so_and_leaves_nothing(
    service, fake: FakeOpenAI, make_plan
):
    """OpenAI's self-serve wind-down: jobs.create answers 403 for an organisation whose key
    works for everything else. One message says why and how to train locally; the uploads are
    deleted; the key is not taken for rejected, so OpenAI jobs already running are followed."""
    from finetune.models import default_model_table
    from finetune.plan import TrainingParams, prepare_plan

    fake.fine_tuning_withdrawn = True
    validation = training_jsonl(10)
    plan = prepare_plan(
        training_jsonl(),
        training_filename="train.jsonl",
        params=TrainingParams(MODEL),
        models=default_model_table(),
        validation=validation,
    )
    with pytest.raises(FineTuningUnavailable) as refused:
        await service.start(
            plan, training_jsonl(), "train.jsonl", "1", "2", "3", validation_bytes=validation
        )

    assert [r.status for r in fake.calls("POST", "/v1/fine_tuning/jobs")] == [403]
    assert len(fake.calls("DELETE", "/v1/files")) == 2 and fake.files == {}
    assert await service.list_jobs() == []
    english, japanese = str(refused.value), refused.value.render("ja")
    assert "OpenAI no longer offers fine-tuning to this organisation" in english
    assert "2027-01-06" in english and "/train backend:local" in english
    assert "OpenAI はこの組織にファインチューニングを提供しなくなりました" in japanese
    assert "2027-01-06" in japanese and "/train backend:local" in japanese
    assert service.backend("openai").available


def test_the_default_backend_is_the_local_trainer(db: Database, client):
    trainer = make_openai_client("kobo-local-trainer", base_url="http://127.0.0.1:9/v1")
    assert FineTuneService(client, db, local_client=trainer).default_backend == "local"
    assert FineTuneService(None, db, local_client=None).default_backend == "local"
    # Local training set off, an OpenAI key set: OpenAI is all there is.
    assert FineTuneService(client, db, local_client=None).default_backend == "openai"


async def test_cancel_through_kobo_records_who_and_queues_a_cancelled_notice(
    service, fake: FakeOpenAI, make_plan
):
    record = await start(service, make_plan())
    cancelled = await service.cancel(record.job_id, by="4242")

    assert fake.jobs[record.job_id].data["status"] == "cancelled"
    assert cancelled.status == "cancelled"
    assert cancelled.cancel_requested_by == "4242"
    notices = await service.repository.notices_for_job(record.job_id)
    assert [(n.kind, n.payload["cancelled_by"], n.state) for n in notices] == [
        ("cancelled", "4242", "pending")
    ]
    with pytest.raises(JobAlreadyFinished):
        await service.cancel(record.job_id, by="4242")


async def test_cancel_of_an_unknown_job_is_refused(service):
    with pytest.raises(UnknownJob, match="ftjob-nope"):
        await service.cancel("ftjob-nope", by="1")


async def test_a_failed_cancel_forgets_who_asked(service, fake: FakeOpenAI, make_plan):
    record = await start(service, make_plan())
    fake.fail_next(3, 500)  # the SDK tries 3 times (max_retries=2)
    with pytest.raises(FineTuningError, match="server error"):
        await service.cancel(record.job_id, by="9")
    stored = await service.repository.get_job(record.job_id)
    assert stored.status == "validating_files"
    assert stored.cancel_requested_by is None


async def test_list_jobs_is_newest_first_filters_and_pages(service, fake: FakeOpenAI, make_plan):
    ids = [(await start(service, make_plan())).job_id for _ in range(3)]
    await service.cancel(ids[0], by="1")

    assert [j.job_id for j in await service.list_jobs()] == ids[::-1]
    assert [j.job_id for j in await service.list_jobs(limit=1, offset=1)] == [ids[1]]
    assert [j.job_id for j in await service.list_jobs(status="cancelled")] == [ids[0]]
    assert [j.job_id for j in await service.list_jobs(status="unfinished")] == ids[:0:-1]
    # Any status OpenAI may report is a filter; no job has this one.
    assert await service.list_jobs(status="paused") == []


async def test_get_job_returns_the_record_and_recent_events(service, fake: FakeOpenAI, make_plan):
    from finetune.poller import FineTunePoller
    from tests.finetune.conftest import DiscordLikeSink

    record = await start(service, make_plan())
    fake.advance(record.job_id, "running")
    await FineTunePoller(service, DiscordLikeSink()).tick()

    details = await service.get_job(record.job_id)
    assert details.job.status == "running"
    assert details.events[0].message == "Fine-tuning job started"
    assert details.events[-1].message.startswith("Created fine-tuning job")
    assert await service.get_job("ftjob-missing") is None


async def test_missing_key_keeps_the_service_usable_for_lookups_only(db: Database, make_plan):
    assert make_openai_client(None) is None
    assert make_openai_client("   ") is None
    service = FineTuneService(make_openai_client(""), db)

    assert not service.backend("openai").available
    with pytest.raises(
        FineTuningUnavailable, match=r"set OPENAI_API_KEY in the environment or \.env"
    ):
        await start(service, make_plan())
    # A job kobo does not know is refused for the default backend: the local trainer, off too.
    with pytest.raises(FineTuningUnavailable, match="LOCAL_TRAINING"):
        await service.cancel("ftjob-x", by="1")
    assert await service.list_jobs() == []
    assert await service.succeeded_models() == []


async def test_a_rejected_key_on_start_pauses_all_calls(
    service, fake: FakeOpenAI, make_plan, caplog
):
    fake.api_key = "sk-rotated"  # our key no longer works
    with pytest.raises(FineTuningUnavailable, match=r"rejected the API key \(HTTP 401"):
        await start(service, make_plan())
    calls = len(fake.requests)
    with pytest.raises(FineTuningUnavailable):
        await start(service, make_plan())
    assert len(fake.requests) == calls
    assert "sk-test" not in caplog.text
    # Said once, not per attempt.
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == ["ERROR"]
    caplog.clear()


async def test_the_plan_digest_matches_what_is_uploaded(service, fake: FakeOpenAI, make_plan):
    plan = make_plan()
    record = await start(service, plan)
    uploaded = fake.file_contents[record.training_file_id]
    assert hashlib.sha256(uploaded).hexdigest() == plan.training.sha256
    assert json.loads(uploaded.splitlines()[0])["messages"][1]["content"] == "What is 0 + 0?"


async def test_the_dashboard_asks_openai_for_what_it_shows_now(
    service, fake: FakeOpenAI, make_plan
):
    record = await start(service, make_plan())
    fake.advance(record.job_id, "running")
    details = await service.dashboard(record.job_id)
    live = details.live
    assert (live.status, live.checkpoints, live.loss_curve_png) == ("running", [], None)
    assert live.hyperparameters == {"batch_size": 1, "learning_rate_multiplier": 1.8, "n_epochs": 3}
    assert live.estimated_finish == fake.jobs[record.job_id].data["estimated_finish"]
    assert details.live_problem is None

    for step, loss in ((10, 1.5), (20, 1.0), (30, 0.5)):
        fake.add_metrics(record.job_id, step=step, train_loss=loss, total_steps=30)
    fake.succeed(record.job_id, trained_tokens=999)
    live = (await service.dashboard(record.job_id)).live
    assert (live.status, live.trained_tokens, live.estimated_finish) == ("succeeded", 999, None)
    assert [(c.step, c.metrics["train_loss"]) for c in live.checkpoints] == [
        (10, 1.5),
        (20, 1.0),
        (30, 0.5),
    ]
    assert set(live.checkpoints[0].metrics) == {"train_loss", "train_mean_token_accuracy"}
    assert live.loss_curve_png.startswith(b"\x89PNG")
    # Looking is not polling: no notice and no stored change come from it.
    assert await service.repository.notices_for_job(record.job_id) == []
    assert (await service.get_job(record.job_id)).job.status == "validating_files"


async def test_the_dashboard_says_why_openai_could_not_be_asked(
    service, fake: FakeOpenAI, make_plan, db
):
    record = await start(service, make_plan())
    fake.fail_next(3, 500)  # the SDK's two retries too
    details = await service.dashboard(record.job_id)
    assert details.live is None and details.job.job_id == record.job_id
    assert details.live_problem.key == "training.openai.server_error"
    assert "OpenAI had a server error while looking up" in str(details.live_problem)

    without_key = FineTuneService(None, db)
    details = await without_key.dashboard(record.job_id)
    assert details.live is None and "OPENAI_API_KEY" in str(details.live_problem)
    assert await service.dashboard("ftjob-missing") is None


async def test_errors_are_messages_in_both_languages(service, fake: FakeOpenAI, make_plan):
    fake.fail_next(1, 400)
    with pytest.raises(FineTuningError) as raised:
        await start(service, make_plan())
    assert raised.value.message.key == "training.openai.refused"
    assert raised.value.render("ja") == (
        "OpenAI にファインチューニングの開始を断られました: Invalid request (injected by the test)."
    )
    assert str(raised.value) == (
        "OpenAI refused starting the fine-tune: Invalid request (injected by the test)."
    )
    without_key = FineTuneService(None, service.repository._db)
    with pytest.raises(FineTuningUnavailable) as raised:
        await without_key.start(make_plan(), training_jsonl(), "train.jsonl", "1", "2", "3")
    assert "`OPENAI_API_KEY`" in raised.value.render("ja")
