from __future__ import annotations

import asyncio
import base64
import logging

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from openai import AsyncOpenAI

from finetune.notices import DeliveryResult, Notice
from finetune.poller import POLL_JOB_ID, FineTunePoller, TickReport, add_poll_job
from finetune.results import parse_metrics_csv
from finetune.service import FineTuneService
from storage.database import Database
from tests.fakes.openai import FakeOpenAI
from tests.finetune.conftest import DiscordLikeSink, training_jsonl


async def start_job(service: FineTuneService, make_plan) -> str:
    record = await service.start(
        make_plan(), training_jsonl(), "train.jsonl", "1001", "2002", "3003"
    )
    return record.job_id


def poller_for(service: FineTuneService, sink, **options) -> FineTunePoller:
    options.setdefault("progress_interval_s", 0)
    return FineTunePoller(service, sink, **options)


async def test_no_unfinished_job_means_no_api_call(service, sink, fake: FakeOpenAI, make_plan):
    poller = poller_for(service, sink)
    await poller.tick()
    assert fake.requests == []

    job_id = await start_job(service, make_plan)
    await service.cancel(job_id, by="1")
    fake.clear_requests()
    await poller.tick()
    await poller.tick()
    assert fake.requests == []
    assert sink.kinds() == ["cancelled"]


async def test_each_unfinished_job_costs_at_most_two_calls_per_tick(
    service, sink, fake: FakeOpenAI, make_plan
):
    jobs = [await start_job(service, make_plan) for _ in range(3)]
    fake.advance(jobs[0], "running")
    fake.add_metrics(jobs[0], 1, 2.0)
    fake.advance(jobs[1], "queued")
    poller = poller_for(service, sink)

    for _ in range(2):
        fake.clear_requests()
        await poller.tick()
        paths = [r.path for r in fake.requests]
        for job_id in jobs:
            assert len([p for p in paths if job_id in p]) == 2
        assert len(paths) == 6

    fake.succeed(jobs[0])
    fake.clear_requests()
    await poller.tick()
    # retrieve + result file for the finished job, instead of retrieve + events
    first = [r.path for r in fake.requests if jobs[0] in r.path or "/files/" in r.path]
    assert len(first) == 2
    assert first[1].startswith("/v1/files/") and first[1].endswith("/content")


async def test_running_progress_and_success_notices_reach_the_channel(
    service, sink, fake: FakeOpenAI, make_plan
):
    job_id = await start_job(service, make_plan)
    poller = poller_for(service, sink)
    await poller.tick()
    assert sink.messages == {}  # still validating: nothing to say yet

    fake.advance(job_id, "running")
    fake.add_metrics(job_id, 1, 2.5)
    fake.add_metrics(job_id, 2, 1.75, total_steps=30)
    await poller.tick()
    running, progress = sink.messages.values()
    assert (running.kind, running.channel_id, running.guild_id) == ("running", "3003", "2002")
    assert (progress.kind, progress.step, progress.total_steps, progress.train_loss) == (
        "progress",
        2,
        30,
        1.75,
    )

    fake.add_metrics(job_id, 3, 1.25, total_steps=30)
    model = fake.succeed(job_id, trained_tokens=4321, duration_s=754)
    await poller.tick()
    succeeded = list(sink.messages.values())[-1]
    assert succeeded.kind == "succeeded"
    assert succeeded.fine_tuned_model == model
    assert (succeeded.trained_tokens, succeeded.duration_s) == (4321, 754)
    assert succeeded.loss_curve_png.startswith(b"\x89PNG")
    assert (await service.repository.get_job(job_id)).status == "succeeded"
    assert await service.succeeded_models() == [model]

    fake.clear_requests()
    await poller.tick()
    assert fake.requests == []  # finished: never polled again
    # The success tick fetches the result file instead of events: no progress for step 3.
    assert sink.kinds() == ["running", "progress", "succeeded"]


async def test_the_loss_curve_is_drawn_from_the_result_csv(
    service, sink, fake: FakeOpenAI, make_plan
):
    import io

    from matplotlib.image import imread

    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    for step, loss in [(1, 3.0), (2, 2.0), (3, 0.5)]:
        fake.add_metrics(job_id, step, loss)
    fake.succeed(job_id)
    await poller_for(service, sink).tick()

    result_id = fake.jobs[job_id].data["result_files"][0]
    csv_text = base64.b64decode(fake.file_contents[result_id]).decode()
    assert [r.train_loss for r in parse_metrics_csv(csv_text)] == [3.0, 2.0, 0.5]
    png = list(sink.messages.values())[-1].loss_curve_png
    pixels = imread(io.BytesIO(png))
    assert pixels.shape[:2] == (360, 640)
    # fetched once, over the real files.content endpoint
    assert [r.path for r in fake.calls("GET", f"/v1/files/{result_id}/content")]


async def test_a_result_file_download_error_delays_the_success_notice(
    service, sink, fake: FakeOpenAI, make_plan
):
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    fake.succeed(job_id)
    fake.fail_next(3, 500, path_prefix="/v1/files/")  # every SDK try of the download fails
    poller = poller_for(service, sink)
    await poller.tick()
    assert sink.messages == {}
    assert (await service.repository.get_job(job_id)).status == "validating_files"
    await poller.tick()
    assert sink.kinds() == ["succeeded"]
    (succeeded,) = sink.messages.values()
    assert succeeded.loss_curve_png.startswith(b"\x89PNG")


async def test_an_unreadable_result_file_gives_the_success_notice_without_a_chart(
    service, sink, fake: FakeOpenAI, make_plan
):
    job_id = await start_job(service, make_plan)
    model = fake.succeed(job_id)
    fake.file_contents[fake.jobs[job_id].data["result_files"][0]] = b"<html>oops</html>"
    await poller_for(service, sink).tick()
    (succeeded,) = sink.messages.values()
    assert (succeeded.fine_tuned_model, succeeded.loss_curve_png) == (model, None)


async def test_progress_notices_are_throttled(service, sink, fake: FakeOpenAI, make_plan, clock):
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    poller = FineTunePoller(service, sink, progress_interval_s=300)

    fake.add_metrics(job_id, 1, 2.0)
    await poller.tick()
    clock.advance(120)
    fake.add_metrics(job_id, 2, 1.5)
    await poller.tick()  # too soon after the last progress notice
    clock.advance(200)
    fake.add_metrics(job_id, 3, 1.0)
    await poller.tick()

    steps = [n.step for n in sink.messages.values() if n.kind == "progress"]
    assert steps == [1, 3]


async def test_failure_notice_carries_openais_message(service, sink, fake: FakeOpenAI, make_plan):
    job_id = await start_job(service, make_plan)
    fake.fail(job_id, "The job failed due to an invalid training file: line 3 has no content.")
    await poller_for(service, sink).tick()

    (failed,) = sink.messages.values()
    assert failed.kind == "failed"
    assert failed.error_message == (
        "The job failed due to an invalid training file: line 3 has no content."
    )
    stored = await service.repository.get_job(job_id)
    assert (stored.status, stored.error_message) == ("failed", failed.error_message)


async def test_cancel_notices_say_who_cancelled(service, sink, fake: FakeOpenAI, make_plan):
    ours = await start_job(service, make_plan)
    theirs = await start_job(service, make_plan)
    await service.cancel(ours, by="4242")
    fake.cancel_on_openai(theirs)
    await poller_for(service, sink).tick()

    by_job = {n.job_id: n for n in sink.messages.values()}
    assert by_job[ours].cancelled_by == "4242"
    assert by_job[theirs].cancelled_by is None


async def test_a_crash_after_posting_redelivers_with_the_same_nonce(
    db_path, client: AsyncOpenAI, fake: FakeOpenAI, make_plan, clock
):
    class Killed(BaseException):
        """Stands for kill -9: nothing after the post runs."""

    class PostsThenDies(DiscordLikeSink):
        async def deliver(self, notice: Notice) -> DeliveryResult:
            await super().deliver(notice)
            raise Killed

    discord = PostsThenDies()
    db = await Database.open(db_path)
    service = FineTuneService(client, db, clock=clock)
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    with pytest.raises(Killed):
        await poller_for(service, discord).tick()
    await db.close()
    (posted,) = discord.attempts

    # The bot restarts: a new database connection, service and poller on the same file.
    db = await Database.open(db_path)
    restarted = FineTuneService(client, db, clock=clock)
    after_restart = DiscordLikeSink(messages=discord.messages)  # same channel, same history
    await poller_for(restarted, after_restart).tick()
    await poller_for(restarted, after_restart).tick()
    await db.close()

    (redelivered,) = after_restart.attempts
    assert redelivered.nonce == posted.nonce
    assert redelivered.kind == posted.kind == "running"
    assert len(after_restart.messages) == 1  # Discord kept one message for the nonce


async def test_a_crash_between_polling_and_storing_loses_nothing_and_repeats_nothing(
    db_path, client: AsyncOpenAI, fake: FakeOpenAI, make_plan, clock
):
    db = await Database.open(db_path)
    service = FineTuneService(client, db, clock=clock)
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    fake.add_metrics(job_id, 5, 1.0)
    sink = DiscordLikeSink()
    # The poll is cut off while its events request is in flight (the process dies there).
    fake.delay_next(1, 5.0, path_prefix=f"/v1/fine_tuning/jobs/{job_id}/events")
    tick = asyncio.create_task(poller_for(service, sink).tick())
    await fake.wait_for_request(f"/v1/fine_tuning/jobs/{job_id}/events")
    tick.cancel()
    with pytest.raises(asyncio.CancelledError):
        await tick
    assert await service.repository.notices_for_job(job_id) == []
    await db.close()

    db = await Database.open(db_path)
    restarted = FineTuneService(client, db, clock=clock)
    poller = poller_for(restarted, sink)
    await poller.tick()
    await poller.tick()
    await db.close()
    assert sink.kinds() == ["running", "progress"]
    assert len(sink.attempts) == 2


@pytest.mark.parametrize("status", [429, 500])
async def test_bursts_of_errors_leave_the_job_running_and_the_notice_still_comes(
    status, service, sink, fake: FakeOpenAI, make_plan
):
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    poller = poller_for(service, sink)

    fake.fail_next(7, status)  # more than the SDK's 3 tries per call: a whole tick fails
    await poller.tick()
    assert sink.messages == {}
    assert (await service.repository.get_job(job_id)).status == "validating_files"
    assert await service.repository.notices_for_job(job_id) == []

    while fake.pending_faults:
        await poller.tick()
    await poller.tick()
    assert sink.kinds() == ["running"]
    assert (await service.repository.get_job(job_id)).status == "running"


async def test_timeouts_are_retried_next_tick(
    db: Database, fake: FakeOpenAI, sink, make_plan, clock
):
    # 2 s: far beyond what the fake takes to answer, even on a busy machine.
    sdk = AsyncOpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=2.0)
    service = FineTuneService(sdk, db, clock=clock)
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    fake.hold_next(1)  # never answered: the client gives up
    poller = poller_for(service, sink)
    await poller.tick()
    assert sink.messages == {}
    await poller.tick()
    assert sink.kinds() == ["running"]
    await sdk.close()


async def test_a_rejected_key_is_reported_once_and_stops_all_calls(
    service, sink, fake: FakeOpenAI, make_plan, caplog
):
    job_id = await start_job(service, make_plan)
    poller = poller_for(service, sink)
    fake.fail_next(1, 401)
    fake.clear_requests()
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            await poller.tick()

    assert len(fake.requests) == 1  # the 401 itself; no retries, nothing after
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "OpenAI rejected the API key (HTTP 401, invalid_api_key)" in errors[0].getMessage()
    assert fake.api_key not in caplog.text
    assert (await service.repository.get_job(job_id)).status == "validating_files"
    assert not service.backend("openai").available
    caplog.clear()  # the one expected error log was checked above


async def test_no_key_means_no_calls_but_pending_notices_still_go_out(
    db: Database, fake: FakeOpenAI, service, sink, make_plan
):
    job_id = await start_job(service, make_plan)
    await service.cancel(job_id, by="7")
    other = await start_job(service, make_plan)
    fake.clear_requests()

    keyless = FineTuneService(None, db)
    await poller_for(keyless, sink).tick()
    assert fake.requests == []
    assert sink.kinds() == ["cancelled"]
    assert (await keyless.repository.get_job(other)).status == "validating_files"


async def test_undeliverable_notices_are_dropped_and_the_job_state_is_kept(
    service, fake: FakeOpenAI, make_plan, caplog
):
    sink = DiscordLikeSink(answers=[DeliveryResult.undeliverable("channel 3003 was deleted")])
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    poller = poller_for(service, sink)
    with caplog.at_level(logging.WARNING):
        await poller.tick()
        await poller.tick()

    assert sink.messages == {}
    assert len(sink.attempts) == 1
    (notice,) = await service.repository.notices_for_job(job_id)
    assert (notice.state, notice.last_error) == ("dropped", "channel 3003 was deleted")
    assert "channel 3003 was deleted" in caplog.text
    assert (await service.repository.get_job(job_id)).status == "running"


async def test_retry_later_keeps_a_jobs_notices_in_order(service, fake: FakeOpenAI, make_plan):
    sink = DiscordLikeSink(answers=[DeliveryResult.retry_later("Discord is down")])
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    fake.add_metrics(job_id, 1, 2.0)
    poller = poller_for(service, sink)

    report = await poller.tick()
    assert (report.retry_later, report.delivered) == (1, 0)
    assert [n.kind for n in sink.attempts] == ["running"]  # progress waited behind it
    await poller.tick()
    assert sink.kinds() == ["running", "progress"]


async def test_a_notice_that_keeps_failing_is_given_up(service, fake: FakeOpenAI, make_plan):
    sink = DiscordLikeSink(answers=[DeliveryResult.retry_later("Discord is down")] * 3)
    job_id = await start_job(service, make_plan)
    await service.cancel(job_id, by="1")
    poller = poller_for(service, sink, max_delivery_attempts=3)
    for _ in range(4):
        await poller.tick()
    (notice,) = await service.repository.notices_for_job(job_id)
    assert notice.state == "dropped"
    assert notice.last_error == "gave up after 3 attempts: Discord is down"
    assert len(sink.attempts) == 3


async def test_the_scheduler_job_runs_ticks_one_at_a_time(
    service, sink, fake: FakeOpenAI, make_plan
):
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    scheduler = AsyncIOScheduler()
    job = add_poll_job(scheduler, poller_for(service, sink), seconds=0.05)
    assert (job.max_instances, job.coalesce) == (1, True)
    scheduler.start()
    try:
        for _ in range(6000):  # a ceiling for a hang (60 s): the first tick comes in 0.05 s
            if sink.messages:
                break
            await asyncio.sleep(0.01)
    finally:
        scheduler.shutdown(wait=False)
    assert sink.kinds() == ["running"]


async def test_a_paused_job_is_stored_as_paused_and_still_followed(
    service, sink, fake: FakeOpenAI, client: AsyncOpenAI, make_plan
):
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    poller = poller_for(service, sink)
    await poller.tick()
    fake.pause_on_openai(job_id)
    for _ in range(2):
        fake.clear_requests()
        report = await poller.tick()
        assert report.jobs_polled == 1 and fake.calls("GET", f"/v1/fine_tuning/jobs/{job_id}")
        assert (await service.repository.get_job(job_id)).status == "paused"
    assert [j.job_id for j in await service.list_jobs(status="unfinished")] == [job_id]

    await client.fine_tuning.jobs.resume(job_id)
    model = fake.succeed(job_id)
    await poller.tick()
    assert sink.kinds() == ["running", "succeeded"]
    assert list(sink.messages.values())[-1].fine_tuned_model == model


async def test_a_status_kobo_does_not_know_is_stored_and_the_job_still_followed(
    service, sink, fake: FakeOpenAI, make_plan
):
    job_id = await start_job(service, make_plan)
    fake.report_status(job_id, "throttled")
    poller = poller_for(service, sink)
    await poller.tick()
    await poller.tick()
    assert (await service.repository.get_job(job_id)).status == "throttled"
    assert sink.messages == {}  # nothing to say about a status we cannot explain
    fake.fail(job_id, "The job failed.")
    await poller.tick()
    assert sink.kinds() == ["failed"]


async def test_a_rejected_key_tells_each_running_jobs_channel_once(
    db_path, client: AsyncOpenAI, fake: FakeOpenAI, make_plan, clock, caplog
):
    db = await Database.open(db_path)
    service = FineTuneService(client, db, clock=clock)
    running, queued, done = [await start_job(service, make_plan) for _ in range(3)]
    fake.advance(running, "running")
    await service.cancel(done, by="1")
    sink = DiscordLikeSink()
    poller = poller_for(service, sink)
    await poller.tick()
    fake.fail_next(1, 401)
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            await poller.tick()
    caplog.clear()  # the one "OpenAI rejected the API key" error is checked elsewhere

    told = [n for n in sink.messages.values() if n.kind == "key_rejected"]
    assert sorted(n.job_id for n in told) == sorted([running, queued])
    assert {n.error_message for n in told} == {"HTTP 401, invalid_api_key"}
    assert {n.channel_id for n in told} == {"3003"}
    for job_id in (running, queued):
        assert (await service.repository.get_job(job_id)).not_followed_reason == "key rejected"
    assert (await service.repository.get_job(done)).not_followed_reason is None
    await db.close()

    # kobo restarts with a key OpenAI takes: the jobs are followed again, and said so once.
    db = await Database.open(db_path)
    restarted = FineTuneService(client, db, clock=clock)
    fake.succeed(running)
    await poller_for(restarted, sink).tick()
    assert (await restarted.repository.get_job(running)).status == "succeeded"
    assert (await restarted.repository.get_job(queued)).not_followed_reason is None
    assert [n.kind for n in sink.messages.values()].count("key_rejected") == 2
    assert list(sink.messages.values())[-1].kind == "succeeded"
    await db.close()


async def test_slow_polls_are_not_overlapped_nor_logged_as_skipped_runs(
    service, sink, fake: FakeOpenAI, make_plan, caplog
):
    job_id = await start_job(service, make_plan)
    fake.advance(job_id, "running")
    fake.delay_next(8, 0.3, path_prefix=f"/v1/fine_tuning/jobs/{job_id}")  # each tick >= 0.6 s
    scheduler = AsyncIOScheduler()
    poller = poller_for(service, sink)
    add_poll_job(scheduler, poller, seconds=0.05)
    with caplog.at_level(logging.DEBUG, logger="apscheduler"):
        scheduler.start()
        try:
            for _ in range(6000):  # a ceiling for a hang: 60 s, for three ticks of ~0.6 s
                if len(fake.calls("GET", f"/v1/fine_tuning/jobs/{job_id}/events")) >= 3:
                    break
                await asyncio.sleep(0.01)
        finally:  # as kobo shuts down: no more ticks, the one in progress ends, then the rest
            scheduler.remove_job(POLL_JOB_ID)
            await poller.drain()
            scheduler.shutdown(wait=False)
    assert len(fake.calls("GET", f"/v1/fine_tuning/jobs/{job_id}/events")) >= 3  # polls go on
    assert "maximum number of running instances" not in caplog.text
    assert sink.kinds() == ["running"]


async def test_after_drain_a_late_tick_does_nothing(service, sink, fake: FakeOpenAI, make_plan):
    job_id = await start_job(service, make_plan)
    await service.cancel(job_id, by="1")  # a notice is pending
    other = await start_job(service, make_plan)
    fake.advance(other, "running")
    poller = poller_for(service, sink)
    await poller.drain()  # shutting down; a tick the scheduler had already started comes late:
    fake.clear_requests()
    assert await poller.tick() == TickReport()
    assert fake.requests == [] and sink.attempts == []
