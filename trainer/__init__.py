"""kobo's local trainer: fine-tunes small open models on this machine (CPU, or a GPU when there
is one) behind an OpenAI-shaped fine-tuning API.

- :mod:`trainer.app`: the HTTP API (files, fine-tuning jobs, events, checkpoints, models).
- :mod:`trainer.runner`: runs the jobs one at a time, each in its own training process.
- :mod:`trainer.server`: starts both (``python -m trainer``, or inside the bot).
- :mod:`trainer.base_models`: the models it can train (the ``LOCAL_BASE_MODELS`` setting).
- :mod:`trainer.chat_data`: chat JSONL -> token ids and labels (loss on assistant tokens only).
- :mod:`trainer.worker`: the training process, one per job (``python -m trainer.worker SPEC``).
- :mod:`trainer.gemma_package`: the pip-packaged Gemma 3 270M GGUF -> a safetensors model folder.
"""
