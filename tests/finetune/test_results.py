from __future__ import annotations

import base64
import io

import pytest
from matplotlib.image import imread

from finetune.results import (
    MetricRow,
    ResultFileError,
    decode_result_file,
    loss_curve_png,
    parse_metrics_csv,
)

CSV = (
    "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy\n"
    "1,2.5,0.4,,\n"
    "2,1.5,0.6,1.9,0.5\n"
    "3,0.75,0.8,,\n"
)


def test_openai_base64_result_files_and_plain_csv_read_the_same():
    assert decode_result_file(base64.b64encode(CSV.encode())) == CSV.strip()
    assert decode_result_file(CSV.encode()) == CSV.strip()


def test_rows_keep_empty_validation_cells_as_missing():
    assert parse_metrics_csv(CSV) == [
        MetricRow(1, 2.5, None),
        MetricRow(2, 1.5, 1.9),
        MetricRow(3, 0.75, None),
    ]


def test_the_curve_is_a_png():
    png = loss_curve_png(base64.b64encode(CSV.encode()), title="ft:test")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert imread(io.BytesIO(png)).shape[:2] == (360, 640)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%%% not a csv", "neither CSV nor base64"),
        (base64.b64encode(b"hello"), "does not start with a 'step' column"),
        (b"step,accuracy\n1,0.5\n", "no 'train_loss' column"),
        (b"step,train_loss\nx,1\n", "line 2: step is not a number"),
        (b"step,train_loss\n1,\n", "no training loss values"),
    ],
)
def test_unusable_result_files_say_why(content, message):
    with pytest.raises(ResultFileError, match=message):
        loss_curve_png(content, title="t")
