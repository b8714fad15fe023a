"""Errors the augmentation engine raises on purpose: each carries a catalogue message.

``error.render(language)`` is the complete user message in that language (``str(error)`` the
English one): it names what is wrong and where, and is safe to show as it is.
"""

from __future__ import annotations

from i18n import LocalizedError


class AugmentError(LocalizedError):
    """Base class: the message names what is wrong and where, and what to do about it."""


class InputError(AugmentError):
    """The uploaded file cannot be used: it names the file and, where it applies, row and column."""


class ModelLoadError(AugmentError):
    """The fill-mask model cannot be loaded (missing, not a masked language model, no mask)."""


class AugmentOptionError(AugmentError):
    """An option such as ``count`` or ``top_k`` is out of range or does not fit the method."""
