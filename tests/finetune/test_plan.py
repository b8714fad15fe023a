from __future__ import annotations

import json

import pytest

from finetune.local_models import LocalServing, parse_local_models
from finetune.models import ModelSpec, ModelTable, default_model_table
from finetune.plan import (
    TimeEstimate,
    TrainingParams,
    auto_epochs,
    prepare_plan,
    suffix_problem,
)
from finetune.tokens import count_example_tokens
from gateway.export import base_gguf_folder
from i18n import msg, text
from tests.finetune.conftest import MODEL, training_jsonl


@pytest.mark.parametrize(
    ("examples", "epochs"),
    [(10, 10), (20, 5), (33, 3), (34, 3), (4000, 3), (8333, 3), (8334, 2), (30000, 1)],
)
def test_auto_epochs_follow_openais_rule(examples, epochs):
    assert auto_epochs(examples) == epochs


def test_auto_epochs_are_capped_at_25_for_tiny_sets():
    assert auto_epochs(1) == 25
    assert auto_epochs(3) == 25
    assert auto_epochs(4) == 25
    assert auto_epochs(5) == 20


def test_the_estimate_is_billed_tokens_times_epochs_times_price():
    data = training_jsonl(12)
    plan = prepare_plan(
        data,
        training_filename="train.jsonl",
        params=TrainingParams(MODEL),
        models=default_model_table(),
    )
    per_example = [
        count_example_tokens(json.loads(line)["messages"], "o200k_base")
        for line in data.decode().splitlines()
    ]
    assert plan.ok
    assert plan.training.tokens.billed_tokens == sum(per_example)
    assert plan.estimate.epochs == 8  # 100 // 12
    assert plan.estimate.epochs_auto
    assert plan.estimate.trained_tokens == sum(per_example) * 8
    assert plan.estimate.usd == pytest.approx(sum(per_example) * 8 * 3.00 / 1_000_000)


def test_fixed_epochs_and_the_per_example_limit_cap_the_bill():
    tiny_limit = ModelTable([ModelSpec("tiny", "cl100k_base", 20, 10.0)])
    plan = prepare_plan(
        training_jsonl(10),
        training_filename="train.jsonl",
        params=TrainingParams("tiny", epochs=2),
        models=tiny_limit,
    )
    stats = plan.training.tokens
    assert stats.max_tokens > 20
    assert stats.billed_tokens == 20 * 10
    assert plan.estimate.trained_tokens == 400
    assert plan.estimate.usd == pytest.approx(400 * 10.0 / 1_000_000)
    assert stats.over_limit_lines == tuple(range(1, 11))
    assert plan.warnings == [
        "train.jsonl: 10 example(s) over 20 tokens will be truncated (lines 1, 2, 3, 4, 5, 6, 7,"
        " 8, 9, 10)"
    ]
    assert plan.warning_messages[0].render("ja") == (
        "train.jsonl: 20 トークンを超える例が 10件あり、超えた部分は学習に使われません"
        "（1, 2, 3, 4, 5, 6, 7, 8, 9, 10行目）"
    )
    assert plan.ok  # truncation is a warning, not a refusal


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (TrainingParams("gpt-2"), "unknown base model 'gpt-2'; choose one of gpt-4.1-mini"),
        (TrainingParams(MODEL, epochs=0), "epochs must be 'auto' or 1..50, got 0"),
        (TrainingParams(MODEL, epochs=51), "epochs must be 'auto' or 1..50, got 51"),
        (TrainingParams(MODEL, suffix="a" * 65), "suffix is 65 characters long; at most 64"),
        (TrainingParams(MODEL, suffix="my model:v2"), "suffix may only use letters, digits"),
        (TrainingParams(MODEL, seed=-1), "seed must be a whole number 0..2147483647, got -1"),
    ],
)
def test_bad_params_are_problems(params, problem):
    plan = prepare_plan(
        training_jsonl(), training_filename="t.jsonl", params=params, models=default_model_table()
    )
    assert not plan.ok
    assert any(p.startswith(problem) for p in plan.problems), plan.problems


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        (TrainingParams("gpt-2"), "元のモデル 'gpt-2' は使えません。gpt-4.1-mini"),
        (TrainingParams(MODEL, epochs=51), "エポック数は auto か 1〜50 にしてください（指定: 51）"),
        (TrainingParams(MODEL, suffix="a" * 65), "サフィックスが 65 文字あります（64 文字まで"),
        (TrainingParams(MODEL, suffix="my model"), "サフィックスに使えない文字 ' ' が入っています"),
        (TrainingParams(MODEL, seed=-1), "シードは 0〜2147483647 の整数にしてください"),
    ],
    ids=["base_model", "epochs", "suffix_length", "suffix_characters", "seed"],
)
def test_bad_params_are_said_in_the_readers_language(params, problem):
    plan = prepare_plan(
        training_jsonl(), training_filename="t.jsonl", params=params, models=default_model_table()
    )
    japanese = [p.render("ja") for p in plan.problem_messages]
    assert any(p.startswith(problem) for p in japanese), japanese


def test_suffix_rules():
    assert suffix_problem(None) is None
    assert suffix_problem("kobo_class-3") is None
    assert suffix_problem("a" * 64) is None
    assert str(suffix_problem("")) == "suffix is empty (leave it out instead)"
    assert suffix_problem("").render("ja") == (
        "サフィックスが空です（使わないときは指定しないでください）"
    )
    assert suffix_problem("ロボ") is not None


def test_file_problems_and_validation_file_problems_are_both_shown():
    plan = prepare_plan(
        training_jsonl(12),
        training_filename="train.jsonl",
        params=TrainingParams(MODEL),
        models=default_model_table(),
        validation=b"{oops\n",
        validation_filename="valid.jsonl",
    )
    assert not plan.ok
    assert plan.problems[0].startswith("valid.jsonl line 1: not valid JSON")
    japanese = [p.render("ja") for p in plan.problem_messages]
    assert japanese[0].startswith("valid.jsonl 1行目: JSON として正しくありません")
    assert [str(p) for p in plan.problem_messages] == plan.problems
    assert plan.training.problem_count == 0
    assert plan.validation.lines == 1


def test_every_plan_has_its_own_id_and_the_files_digest():
    first = prepare_plan(
        training_jsonl(),
        training_filename="t",
        params=TrainingParams(MODEL),
        models=default_model_table(),
    )
    second = prepare_plan(
        training_jsonl(),
        training_filename="t",
        params=TrainingParams(MODEL),
        models=default_model_table(),
    )
    assert first.plan_id != second.plan_id
    assert first.training.sha256 == second.training.sha256


def test_hostile_lines_are_listed_as_problems_instead_of_crashing_the_plan():
    lines = training_jsonl(12).decode().splitlines()
    lines[1] = '{"messages": [], "n": ' + "1" * 5000 + "}"
    lines[3] = '{"messages": ' + "[" * 5000 + "]" * 5000 + "}"
    plan = prepare_plan(
        ("\n".join(lines) + "\n").encode(),
        training_filename="train.jsonl",
        params=TrainingParams(MODEL),
        models=default_model_table(),
    )
    assert plan.problems == [
        "train.jsonl line 2: a number is 5,000 characters long (at most 40)",
        "train.jsonl line 4: nested too deeply (more than 32 levels)",
    ]
    assert plan.training.valid_examples == 10 and not plan.ok


def test_an_example_no_model_could_take_is_refused_before_counting_its_tokens():
    # A 1,000-token model, so that "longer than 1,000 tokens of 128 characters" stays small here;
    # the real limit, 65,536 tokens, makes it 8.4 million characters.
    small = ModelTable([ModelSpec("small", "o200k_base", 1000, 10.0)])
    lines = training_jsonl(12).decode().splitlines()
    lines[6] = json.dumps(
        {
            "messages": [
                {"role": "user", "content": "x" * 300_000},
                {"role": "assistant", "content": "!"},
            ]
        }
    )
    plan = prepare_plan(
        ("\n".join(lines) + "\n").encode(),
        training_filename="train.jsonl",
        params=TrainingParams("small"),
        models=small,
    )
    assert plan.problems == [
        "train.jsonl line 7: example is too long (300,014 characters; the model takes at most "
        "1,000 tokens)"
    ]
    assert plan.training.tokens.examples == 11 and not plan.ok


# --- local runs (kobo's trainer): a time estimate from its throughput, no money ------------

# As kobo's trainer lists a base model in GET /v1/models (the SDK's Model, kobo's fields kept).
TINY_ENTRY = {
    "id": "tiny",
    "object": "model",
    "created": 0,
    "owned_by": "kobo",
    "kobo_trainable": True,
    "kobo_chars_per_second": 50.0,
    "kobo_throughput_measured": False,
    "kobo_parameters": 270_000_000,
    "kobo_peak_memory_bytes": 4_800_000_000,
    "kobo_device": "cpu",
    "kobo_licence": "Gemma terms",
}


def local_models(**changes):
    return parse_local_models([{**TINY_ENTRY, **changes}])


def test_a_local_plan_estimates_time_from_the_characters_and_the_trainers_throughput():
    data = training_jsonl(12)
    plan = prepare_plan(
        data,
        training_filename="train.jsonl",
        params=TrainingParams("tiny", backend="local"),
        models=local_models(),
    )
    chars = sum(
        len(m["content"])
        for line in data.decode().splitlines()
        for m in json.loads(line)["messages"]
    )
    assert plan.ok and plan.training.tokens is None  # no tokenizer needed in the bot
    estimate = plan.estimate
    assert isinstance(estimate, TimeEstimate)
    assert (estimate.chars_per_epoch, estimate.epochs, estimate.epochs_auto) == (chars, 8, True)
    assert estimate.seconds == pytest.approx(chars * 8 / 50.0)
    assert not estimate.throughput_measured and estimate.device == "cpu"
    assert estimate.memory_bytes == 4_800_000_000  # LoRA: the trainer's figure
    full = prepare_plan(
        data,
        training_filename="train.jsonl",
        params=TrainingParams("tiny", backend="local", full_fine_tune=True, epochs=2),
        models=local_models(kobo_throughput_measured=True),
    ).estimate
    assert full.memory_bytes > estimate.memory_bytes and full.disk_bytes > estimate.disk_bytes
    assert full.throughput_measured and full.seconds == pytest.approx(chars * 2 / 50.0)


def test_the_trainers_finished_models_are_not_base_models():
    models = parse_local_models(
        [
            TINY_ENTRY,
            {
                "id": "ft:tiny:kobo::abcd1234",
                "object": "model",
                "kobo_trainable": False,
                "kobo_base_model": "tiny",
            },
        ]
    )
    assert list(models) == ["tiny"]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_local_only_options_and_lora_ranks_are_checked(language):
    plan = prepare_plan(
        training_jsonl(12),
        training_filename="train.jsonl",
        params=TrainingParams(MODEL, lora_rank=8, merge=True),
        models=default_model_table(),
    )
    assert [m.key for m in plan.param_problems] == ["training.param.local_only"] * 2
    assert "lora_rank" in plan.param_problems[0].render(language)
    local = prepare_plan(
        training_jsonl(12),
        training_filename="train.jsonl",
        params=TrainingParams("tiny", backend="local", lora_rank=0),
        models=local_models(),
    )
    assert not local.ok
    assert local.param_problems[0] == msg(
        "training.param.lora_rank_range", low=1, high=256, rank="0"
    )


def test_a_base_model_without_a_throughput_yet_is_offered_without_a_time():
    plan = prepare_plan(
        training_jsonl(12),
        training_filename="train.jsonl",
        params=TrainingParams("tiny", backend="local", epochs=2),
        models=local_models(kobo_chars_per_second=None),
    )
    assert plan.ok and plan.estimate.seconds is None and plan.estimate.epochs == 2


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_first_run_shows_the_one_time_conversion_and_gguf_export(tmp_path, language):
    """The packaged Gemma is converted (fp32) before its first training, and its GGUF is
    exported before its first fine-tune answers a robot here: both are named, once."""
    serving = LocalServing(tmp_path / "models", "q8_0")
    entry = {**TINY_ENTRY, "kobo_source": "/srv/tiny", "kobo_base_conversion_bytes": 1_080_000_000}
    models = serving.with_export_bytes(parse_local_models([entry]))

    def estimate(**params):
        return prepare_plan(
            training_jsonl(12),
            training_filename="train.jsonl",
            params=TrainingParams("tiny", backend="local", **params),
            models=models,
        ).estimate

    first = estimate()
    export = 270_000_000 * 34 // 32  # q8_0: 34 bytes per 32 weights, about 287 MB
    assert (first.conversion_bytes, first.export_bytes) == (1_080_000_000, export)
    assert first.first_use_bytes == 1_080_000_000 + export
    said = first.first_use_message("1.4 GB").render(language)
    assert said == text(
        "training.preview.first_use",
        language,
        size="1.4 GB",
        what=text("training.preview.first_use_both", language),
    )
    # A full fine-tune is exported whole, not on its base: no base GGUF to count.
    assert estimate(full_fine_tune=True).export_bytes is None

    exported = base_gguf_folder(tmp_path / "models", "tiny", "/srv/tiny")
    exported.mkdir(parents=True)
    (exported / "model-q8_0.gguf").write_bytes(b"GGUF")
    done = serving.with_export_bytes(
        parse_local_models([{**entry, "kobo_base_conversion_bytes": None}])
    )
    later = prepare_plan(
        training_jsonl(12),
        training_filename="train.jsonl",
        params=TrainingParams("tiny", backend="local"),
        models=done,
    ).estimate
    assert later.first_use_bytes is None and later.first_use_message("0 MB") is None
    # Another GGUF type is another export.
    f16 = LocalServing(tmp_path / "models", "f16").with_export_bytes(parse_local_models([entry]))
    assert f16["tiny"].export_bytes == 270_000_000 * 2


def test_a_measured_speed_says_how_many_runs_it_is_the_median_of():
    models = local_models(kobo_throughput_measured=True, kobo_throughput_runs=3)
    plan = prepare_plan(
        training_jsonl(12),
        training_filename="train.jsonl",
        params=TrainingParams("tiny", backend="local"),
        models=models,
    )
    assert plan.estimate.throughput_runs == 3
    assert plan.estimate.basis_message() == msg("training.preview.throughput_measured", runs=3)
    assert "3" in plan.estimate.basis_message().render("ja")
