"""kobo's local trainer: fine-tunes small open models on this machine (CPU, or a GPU when there
is one) behind an OpenAI-shaped fine-tuning API.

- :mod:`trainer.app`: the HTTP API (files, fine-tuning jobs, events, checkpoints, models).
- :mod:`trainer.runner`: runs the jobs one at a time, each in its own training process.
- :mod:`trainer.server`: starts both (``python -m trainer``, or inside the bot).
"""
