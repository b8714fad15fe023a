"""Read a job's result file (metrics CSV) and draw its training-loss curve as a PNG."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import math
from dataclasses import dataclass

# The Agg canvas is used directly, never pyplot: no display needed, no process-wide backend
# switch, and no pyplot global state shared between threads.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

TRAINING_COLOUR = "tab:blue"
VALIDATION_COLOUR = "tab:orange"


class ResultFileError(ValueError):
    """The result file is not the metrics CSV we expect; the message says what is wrong."""


@dataclass(frozen=True)
class MetricRow:
    step: int
    train_loss: float | None
    valid_loss: float | None


def decode_result_file(content: bytes) -> str:
    """The CSV text. OpenAI serves result files base64-encoded; plain CSV is accepted as well."""
    stripped = content.strip()
    if stripped.startswith(b"step"):
        return stripped.decode("utf-8")
    try:
        decoded = base64.b64decode(stripped, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ResultFileError("result file is neither CSV nor base64-encoded CSV") from exc
    if not decoded.lstrip().startswith(b"step"):
        raise ResultFileError("decoded result file does not start with a 'step' column")
    return decoded.strip().decode("utf-8")


def parse_metrics_csv(text: str) -> list[MetricRow]:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    for needed in ("step", "train_loss"):
        if needed not in columns:
            raise ResultFileError(f"result file has no {needed!r} column (columns: {columns})")
    rows = []
    for number, record in enumerate(reader, start=2):
        try:
            step = int(float(record["step"]))
        except (TypeError, ValueError) as exc:
            raise ResultFileError(f"result file line {number}: step is not a number") from exc
        rows.append(
            MetricRow(step, _number(record.get("train_loss")), _number(record.get("valid_loss")))
        )
    return rows


def render_loss_curve(rows: list[MetricRow], *, title: str) -> bytes:
    """PNG bytes of training (and validation, when present) loss against step.

    The chart has no words but ``title`` (the model's name): kobo speaks Japanese and English,
    and matplotlib's own font has no Japanese letters, so the message that carries the chart
    says what its lines are (blue: training loss, orange dots: validation loss; step across).
    """
    train = [(r.step, r.train_loss) for r in rows if r.train_loss is not None]
    if not train:
        raise ResultFileError("result file has no training loss values to draw")
    valid = [(r.step, r.valid_loss) for r in rows if r.valid_loss is not None]
    figure = Figure(figsize=(6.4, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(*zip(*train, strict=True), color=TRAINING_COLOUR)
    if valid:
        axes.plot(*zip(*valid, strict=True), "o-", color=VALIDATION_COLOUR)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def loss_curve_png(content: bytes, *, title: str) -> bytes:
    return render_loss_curve(parse_metrics_csv(decode_result_file(content)), title=title)


def _number(cell: str | None) -> float | None:
    if cell is None or not cell.strip():
        return None
    try:
        value = float(cell)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
