"""``POST /v1/files``: receive one multipart upload, streamed to disk, never trusted.

The content goes to a temporary file as it arrives (at most ``TRAINER_MAX_FILE_BYTES``, else
413 at once) and is renamed to ``DATA_DIR/trainer/files/<file id>`` only when the whole request
was read and checked; the client's filename is kept as a label, never used as a path. A full
disk is answered 507 ``disk_full`` (nothing of the upload is left).
"""

from __future__ import annotations

import re
import time

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from storage.trainer import TrainerFile, TrainerRepository
from trainer.disk_space import DISK_FULL, is_disk_full
from trainer.file_store import TrainerPaths, Upload, UploadTooLarge
from trainer.http_errors import ApiError, shorten
from trainer.ids import FILE, new_id

READ_CHUNK_BYTES = 64 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries, part headers and the purpose field
MAX_FIELD_BYTES = 1024  # of a text field such as purpose
MAX_FILENAME_CHARS = 200
ACCEPTED_PURPOSE = "fine-tune"
_UNSAFE_IN_NAME = re.compile(r"[\x00-\x1f\x7f]")


async def receive_upload(
    request: web.Request, paths: TrainerPaths, repository: TrainerRepository, max_bytes: int
) -> TrainerFile:
    length = request.content_length
    if length is not None and length > max_bytes + MULTIPART_OVERHEAD_BYTES:
        raise _too_large(max_bytes)
    if request.content_type != "multipart/form-data":
        raise ApiError(400, "Upload the file as multipart/form-data (fields 'file' and 'purpose').")
    file_id = new_id(FILE)
    relative = paths.file_relative(file_id)
    upload: Upload | None = None
    filename = purpose = None
    committed = False
    try:
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise ApiError(400, "Nested multipart bodies are not accepted.")
                if part.name == "file" and part.filename is not None:
                    if upload is not None:
                        raise ApiError(400, "Send one file per request.", param="file")
                    upload = Upload(paths.absolute(relative), max_bytes)
                    await upload.open()
                    filename = part.filename
                    while chunk := await part.read_chunk(READ_CHUNK_BYTES):
                        await upload.write(chunk)
                elif part.name == "purpose":
                    purpose = await _text_field(part, "purpose")
                else:
                    await part.release()  # fields OpenAI has and we do not need
        except UploadTooLarge:
            raise _too_large(max_bytes) from None
        except (ValueError, RuntimeError, TypeError, HttpProcessingError) as exc:
            raise ApiError(
                400, f"The request body is not valid multipart/form-data: {shorten(str(exc))}"
            ) from None
        if upload is None or filename is None:
            raise ApiError(400, "Missing required parameter: 'file'.", param="file")
        if purpose is None:
            raise ApiError(400, "Missing required parameter: 'purpose'.", param="purpose")
        if purpose != ACCEPTED_PURPOSE:
            raise ApiError(
                400,
                f"purpose must be {ACCEPTED_PURPOSE!r} on this trainer, got {shorten(purpose)!r}",
                param="purpose",
            )
        if upload.bytes == 0:
            raise ApiError(400, "The file is empty.", param="file")
        await upload.commit()
        committed = True
        stored = TrainerFile(
            id=file_id,
            filename=_label(filename),
            purpose=purpose,
            bytes=upload.bytes,
            sha256=upload.sha256,
            path=relative,
            created_unix=int(time.time()),
        )
        await repository.add_file(stored)
        return stored
    except BaseException as exc:
        if upload is not None:
            await upload.discard()
            if committed:
                paths.absolute(relative).unlink(missing_ok=True)
        if is_disk_full(exc):
            raise _disk_full(paths) from exc
        raise


async def _text_field(part: BodyPartReader, name: str) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(MAX_FIELD_BYTES):
        data += chunk
        if len(data) > MAX_FIELD_BYTES:
            raise ApiError(400, f"{name} is too long", param=name)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, f"{name} is not UTF-8 text", param=name) from None


def _label(filename: str) -> str:
    """The client's name for the file, as a label: its last path part, no control characters."""
    name = re.split(r"[\\/]", filename)[-1]
    name = _UNSAFE_IN_NAME.sub("", name).strip()
    return name[:MAX_FILENAME_CHARS] or "upload.jsonl"


def _disk_full(paths: TrainerPaths) -> ApiError:
    # 507 Insufficient Storage: the SDK raises its InternalServerError, with this message.
    return ApiError(
        507,
        f"The trainer's disk is full ({paths.data_dir}, DATA_DIR): the file was not stored."
        " Free some space and upload it again.",
        param="file",
        code=DISK_FULL,
        type_="server_error",
    )


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413,
        f"The file is larger than this trainer accepts ({max_bytes:,} bytes;"
        " TRAINER_MAX_FILE_BYTES).",
        param="file",
        code="file_too_large",
    )
