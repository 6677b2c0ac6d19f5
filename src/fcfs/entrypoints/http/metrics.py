"""GET /metrics: the Prometheus text format, every worker's values in multiprocess mode."""

from __future__ import annotations

from litestar import Response, get

from fcfs.bootstrap.observability.metrics import CONTENT_TYPE, process_metrics
from fcfs.entrypoints.http.openapi import text_operation


@get("/metrics", operation_class=text_operation("Prometheus metrics (text exposition format)"), sync_to_thread=True)
def metrics() -> Response[bytes]:
    """Reads the multiprocess files in a worker thread: a scrape never blocks the event loop."""
    return Response(process_metrics().exposition(), media_type=CONTENT_TYPE)
