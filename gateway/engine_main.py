"""``python -m gateway.engine_main SPEC_JSON``: one llama.cpp server (xllamacpp), for kobo.

kobo starts this process (gateway/engine.py); it loads the model and its LoRA adapters, starts
llama.cpp's OpenAI-compatible server on 127.0.0.1 (a free port), prints one JSON line
``{"listening": "http://127.0.0.1:PORT"}`` and serves until its standard input closes, which
happens when kobo stops it or dies: the engine never outlives kobo.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = spec["model"]
    params.hostnames = ["127.0.0.1"]
    params.port = 0
    params.n_parallel = spec["slots"]
    params.n_ctx = spec["slots"] * spec["context_tokens"]
    params.warmup = False
    params.ui = False
    if spec.get("threads"):
        params.cpuparams.n_threads = spec["threads"]
        params.cpuparams_batch.n_threads = spec["threads"]
    if spec.get("chat_template"):
        params.chat_template = spec["chat_template"]
    if spec["adapters"]:
        # Loaded with scale 0: each request names the one adapter it wants (the "lora" field).
        params.lora_adapters = [
            xllamacpp.CommonAdapterLoraInfo(path, 1.0) for path in spec["adapters"]
        ]
        params.lora_init_without_apply = True
    server = xllamacpp.Server(params)
    print(json.dumps({"listening": server.listening_address}), flush=True)
    sys.stdin.buffer.read()  # until kobo closes it
    os._exit(0)  # llama.cpp's threads need no orderly goodbye


if __name__ == "__main__":
    sys.exit(main(sys.argv))
