"""Prometheus metrics of the API, in prometheus_client's default registry, which
jupyter_server's ``/metrics`` endpoint exports."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "astralytiq_api_requests_total", "AstralytiQ API requests.", ["operation", "method", "status"]
)
LATENCY = Histogram(
    "astralytiq_api_request_duration_seconds",
    "AstralytiQ API request latency.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
UPLOADS = Counter("astralytiq_uploads_total", "Dataset uploads by outcome.", ["outcome"])
UPLOAD_BYTES = Counter("astralytiq_upload_bytes_total", "Bytes of accepted dataset uploads.")
PREDICTIONS = Counter("astralytiq_predictions_total", "Rows predicted through the API.")


def observe_request(operation: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(operation=operation, method=method, status=str(status)).inc()
    LATENCY.labels(operation=operation).observe(seconds)
