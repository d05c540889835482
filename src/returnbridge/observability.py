"""Structured logs (structlog) and Prometheus metrics shared by every process."""

from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import Counter, Histogram

RETURNS_RECEIVED = Counter(
    "returnbridge_returns_received_total", "Return events accepted", ["channel", "duplicate"]
)
RETURN_OUTCOMES = Counter(
    "returnbridge_return_outcomes_total", "Returns that reached a resting state", ["status"]
)
REFUNDS_CREATED = Counter(
    "returnbridge_refunds_created_total", "Refunds executed on a platform", ["platform"]
)
STEP_SECONDS = Histogram("returnbridge_step_seconds", "Duration of workflow steps", ["step"])

_configured = False


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    """Route stdlib and structlog output through one renderer (JSON in production)."""
    global _configured  # noqa: PLW0603 - process-wide logging setup happens once
    if _configured:
        return
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper())
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.getLogger().level))
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    _configured = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
