"""Curating the workshop's data: reviewing augmented examples, lineage, search, merge and export.

Discord-free: the review cog, the /datasets commands and ``python -m bot datasets`` use it alike.
It speaks in :class:`~i18n.Message` and raises :class:`~i18n.LocalizedError`; the SQL is in
storage/ (datasets, dataset_examples, reviews).
"""
