"""One log stream: fcfs's structlog events and every library's `logging` records, rendered alike."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from granian.log import LogLevels
from granian.log import configure_logging as configure_granian_logging

from fcfs.bootstrap.observability.logs import configure_logging, logging_config
from fcfs.bootstrap.preflight import ConfigurationError, check_settings
from fcfs.bootstrap.settings import Settings
from fcfs.entrypoints.http.logs import configure_logging as configure_api_logging
from fcfs.entrypoints.http.request_context import REQUEST_ID


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """Each test configures the process's logging; the next test gets pytest's back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line as one JSON object (a line that is not one fails the test)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_library_record_and_an_fcfs_event_are_json_lines_with_the_same_fields_and_the_request_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_api_logging("info")
    token = REQUEST_ID.set("req-42")
    try:
        logging.getLogger("aiokafka.conn").error("Unable connect to node with id %s", 1)
        structlog.get_logger("fcfs.http").warning("request failed", code="S002")
    finally:
        REQUEST_ID.reset(token)
    logging.getLogger("sqlalchemy.pool").warning("outside any request")

    library, own, outside = json_lines(capsys.readouterr().err)
    assert library["event"] == "Unable connect to node with id 1"
    assert (library["level"], library["logger"], library["request_id"]) == ("error", "aiokafka.conn", "req-42")
    assert (own["event"], own["code"], own["level"], own["logger"]) == (
        "request failed",
        "S002",
        "warning",
        "fcfs.http",
    )
    assert own["request_id"] == "req-42"
    assert set(library) >= {"timestamp", "level", "logger", "event"} and set(own) >= set(library)
    assert "request_id" not in outside


def test_an_exception_is_rendered_inside_its_json_line_never_as_raw_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    try:
        raise ConnectionError("broker gone")
    except ConnectionError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
        structlog.get_logger("fcfs.consumer").exception("batch failed")

    foreign, own = json_lines(capsys.readouterr().err)
    for line in (foreign, own):
        (raised,) = line["exception"]
        assert (raised["exc_type"], raised["exc_value"]) == ("ConnectionError", "broker gone")
        assert all("locals" not in frame for frame in raised["frames"])


def test_granian_applying_the_config_itself_sends_its_own_lines_to_the_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_granian_logging(LogLevels.info, logging_config("info", "json"))
    logging.getLogger("_granian").info("Listening at: http://127.0.0.1:8000")
    logging.getLogger("granian.access").info("GET /health 200")

    started, access = json_lines(capsys.readouterr().err)
    assert (started["logger"], started["event"]) == ("_granian", "Listening at: http://127.0.0.1:8000")
    assert access["logger"] == "granian.access"


def test_the_level_holds_for_libraries_that_set_their_own_logger_lower(capsys: pytest.CaptureFixture[str]) -> None:
    configure_granian_logging(LogLevels.debug, logging_config("warning", "json"))
    logging.getLogger("_granian").info("Spawning worker-1")
    logging.getLogger("_granian").warning("Killing worker-1 after it refused to gracefully stop")

    (only,) = json_lines(capsys.readouterr().err)
    assert only["level"] == "warning"


def test_a_python_warning_becomes_a_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info")
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown, not raised as pytest's configuration would
        warnings.warn("pool size below workers", UserWarning, stacklevel=1)

    (shown,) = json_lines(capsys.readouterr().err)
    assert (shown["logger"], shown["level"]) == ("py.warnings", "warning")
    assert "UserWarning: pool size below workers" in shown["event"]


def test_the_console_format_is_readable_lines_with_the_same_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_api_logging("info", "console")
    token = REQUEST_ID.set("req-7")
    try:
        logging.getLogger("aiokafka.cluster").warning("Topic %s is not available", "coupon.issued")
        structlog.get_logger("fcfs.http").info("coupon paused", coupon=3)
    finally:
        REQUEST_ID.reset(token)

    library, own = capsys.readouterr().err.splitlines()
    for line in (library, own):
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
        assert "request_id=req-7" in line
    assert "Topic coupon.issued is not available" in library and "warning" in library and "aiokafka.cluster" in library
    assert "coupon paused" in own and "coupon=3" in own and "fcfs.http" in own
    assert "\x1b[" not in library + own, "no colour codes when stderr is not a terminal"


def test_an_unknown_log_format_is_refused_before_anything_starts() -> None:
    with pytest.raises(ConfigurationError, match="FCFS_LOG_FORMAT='xml'"):
        check_settings(Settings(log_format="xml"))
    with pytest.raises(ValueError, match="FCFS_LOG_FORMAT"):
        configure_logging("info", log_format="xml")
    assert Settings.from_env({"FCFS_LOG_FORMAT": "console"}).log_format == "console"
