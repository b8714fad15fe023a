"""The augmentation engine: sheet in, chat fine-tuning JSONL out. Knows nothing of Discord."""

from __future__ import annotations

from augment.candidates import Rejection
from augment.engine import AugmentResult, Method, augment
from augment.errors import AugmentError, AugmentOptionError, InputError, ModelLoadError
from augment.example import Example
from augment.export import to_csv, to_jsonl, to_xlsx
from augment.fill_mask import DEFAULT_MODEL, FillMaskModel, load_fill_mask
from augment.read_sheet import ReadLimits, SheetReadResult, SkippedRow, read_sheet

__all__ = [
    "DEFAULT_MODEL",
    "AugmentError",
    "AugmentOptionError",
    "AugmentResult",
    "Example",
    "FillMaskModel",
    "InputError",
    "Method",
    "ModelLoadError",
    "ReadLimits",
    "Rejection",
    "SheetReadResult",
    "SkippedRow",
    "augment",
    "load_fill_mask",
    "read_sheet",
    "to_csv",
    "to_jsonl",
    "to_xlsx",
]
