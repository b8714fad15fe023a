# kobo: the Discord bot, the device API and the scheduler in one process.
# Build:  docker build -t kobo .
# Run:    docker compose up -d      (reads .env; the database and datasets live in the volume)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATABASE_PATH=/data/kobo.sqlite3 \
    DATA_DIR=/data \
    HF_HOME=/data/huggingface \
    DEVICE_API_HOST=0.0.0.0 \
    DEVICE_API_PORT=8000

WORKDIR /app

# The CPU build of torch, pinned like requirements.lock; the default index would bring CUDA.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Every other dependency at the version in requirements.lock, in its own layer: editing the
# source does not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY config ./config
COPY robots ./robots
COPY storage ./storage
COPY device_api ./device_api
COPY augment ./augment
COPY finetune ./finetune
COPY i18n ./i18n
COPY curation ./curation
COPY trainer ./trainer
COPY gateway ./gateway
COPY http_common ./http_common
# llama.cpp's GGUF converters, run as scripts from here (third_party/llama.cpp/VENDORED.md).
COPY third_party ./third_party
RUN pip install --no-deps .

RUN useradd --create-home --uid 10001 kobo \
    && mkdir -p /data && chown kobo:kobo /data
USER kobo
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"DEVICE_API_PORT\", \"8000\")}/healthz', timeout=4)"

CMD ["python", "-m", "bot"]
