"""Request handlers: the firmware's ``/get_text``, the JSON ``/api/v1`` and ``/healthz``."""

from __future__ import annotations

from aiohttp import web

from device_api.directory import ModelDirectory
from device_api.errors import internal_error
from device_api.keys import DATABASE, SETTINGS
from device_api.responses import JSON, UnbrandedResponse, etagged_json, json_error, json_response
from robots.stack_ids import InvalidStackId, parse_stack_id
from storage.assignments import AssignmentRepository, RobotOverview
from storage.last_seen import LastSeenRecorder


class FirmwareEndpoint:
    """``GET /get_text?number=N``: the field firmware's boot-time question.

    The firmware does not parse JSON: it takes the text after the first ``":"`` up to the next
    ``"``. So the body is exactly ``{"message":"<model>"}``, compact, one key, whatever happens.

    The endpoint holds the model directory and the last-seen recorder itself (the app's startup
    hands them over): looking them up on ``request.app`` would cost about 0.25 us each, a sixth
    of what kobo adds to a robot's request (bench/device_api.py).
    """

    def __init__(self) -> None:
        self._directory: ModelDirectory | None = None
        self._recorder: LastSeenRecorder | None = None

    def serve(self, directory: ModelDirectory, recorder: LastSeenRecorder) -> None:
        self._directory, self._recorder = directory, recorder

    async def get_text(self, request: web.Request) -> web.Response:
        stack_id = firmware_number(request.rel_url.raw_query_string)
        if stack_id is None:
            try:
                stack_id = parse_stack_id(request.query.get("number"), "number")
            except InvalidStackId as exc:
                return json_error(400, f"{exc}; use /get_text?number=<StackchanID>")
        try:
            directory = self._directory
            body = directory.fresh_body(stack_id)
            if body is None:  # the table may have changed: reload it first
                body = await directory.legacy_body(stack_id)
            # In memory only; PeriodicFlush writes the sightings in one transaction every few
            # s. Only so many robots without an assignment are kept (made-up ids cost nothing).
            self._recorder.record(
                stack_id, request.remote, assigned=directory.is_assigned(stack_id)
            )
        except Exception:
            # Not expected (the directory serves its last table when the database fails), but
            # a robot must never get aiohttp's HTML error page.
            return internal_error(request)
        return UnbrandedResponse(body=body, content_type=JSON)


def firmware_number(raw_query: str) -> int | None:
    """The robot's number when the query is exactly what the firmware sends, else None.

    The firmware's query is ``number=<digits>``: for ids of up to 9 digits without a leading
    zero this reads it directly, skipping the query multidict and the general checks of
    :func:`parse_stack_id` (about 1.5 us of a robot's ~30 us request, bench/). Anything else
    (more parameters, %-escapes, zero padding, long numbers) goes the general way, with the
    same result.
    """
    if raw_query.startswith("number=") and 8 <= len(raw_query) <= 16:
        digits = raw_query[7:]
        if digits.isascii() and digits.isdigit() and digits[0] != "0":
            return int(digits)
    return None


async def legacy_disabled(request: web.Request) -> web.Response:
    return json_error(404, "/get_text is turned off on this server (LEGACY_ENDPOINT_ENABLED)")


async def healthz(request: web.Request) -> web.Response:
    # Reads the robots' rows, not just "SELECT 1": a damaged file still opens and answers that.
    if await AssignmentRepository(request.app[DATABASE]).readable():
        return json_response({"status": "ok"})
    return json_response(
        {"status": "unavailable", "error": "the robots' data cannot be read from the database"},
        503,
    )


# A dashboard reading a robot is not the robot booting: these views record no sightings.


async def list_stacks(request: web.Request) -> web.Response:
    default_model = request.app[SETTINGS].default_model
    robots = await AssignmentRepository(request.app[DATABASE]).overview()
    return etagged_json(
        request,
        {
            "default_model": default_model,
            "stacks": [_stack_json(robot, default_model) for robot in robots],
        },
    )


async def get_stack(request: web.Request) -> web.Response:
    try:
        stack_id = parse_stack_id(request.match_info["stack_id"], "stack id")
    except InvalidStackId as exc:
        return json_error(400, str(exc))
    default_model = request.app[SETTINGS].default_model
    found = await AssignmentRepository(request.app[DATABASE]).overview(stack_id)
    # A robot nobody assigned and that never asked still has an answer: the default model.
    robot = found[0] if found else RobotOverview(stack_id, None, None, None)
    return etagged_json(request, _stack_json(robot, default_model))


def _stack_json(robot: RobotOverview, default_model: str) -> dict[str, object]:
    assignment = robot.assignment
    return {
        "stack_id": robot.stack_id,
        "model": assignment.model if assignment else default_model,
        "assigned": assignment is not None,
        "assigned_at": assignment.assigned_at if assignment else None,
        "assigned_by": assignment.assigned_by_name if assignment else None,
        "last_seen_at": robot.last_seen_at,
        "last_seen_address": robot.last_seen_address,
    }
