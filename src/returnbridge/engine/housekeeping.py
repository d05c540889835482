"""A worker's background duties: heartbeat, takeover of dead workers, the stalled-return sweep
(which also forgets push delivery ids too old to be replayed), customer emails whose mail
server was down, and the poll of returns systems (Loop) for changes whose webhooks never came.

One daemon thread per worker process. A failed round (database down, say) is logged and the
next one tries again: the housekeeper itself never stops the worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from dbos import DBOS

from returnbridge.engine import executors, redrive
from returnbridge.engine.returns_system_poll import ReturnsSystemPoll
from returnbridge.engine.runtime import Runtime
from returnbridge.notify.email.outbox import send_due
from returnbridge.observability import get_logger
from returnbridge.store import push_sources

log = get_logger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class Housekeeper:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._stop = threading.Event()
        self._poll = ReturnsSystemPoll(runtime)
        self._thread = threading.Thread(target=self._run, name="returnbridge-housekeeper")
        self._thread.daemon = True

    def start(self) -> Housekeeper:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        settings = self._runtime.settings
        me = DBOS.executor_id
        next_sweep = time.monotonic()
        next_poll = time.monotonic()
        while not self._stop.is_set():
            self._guarded("heartbeat", lambda: executors.beat(self._runtime, me, _now()))
            self._guarded("takeover", lambda: executors.take_over_dead(self._runtime, me, _now()))
            self._guarded("emails", self._send_due_emails)
            if time.monotonic() >= next_poll:
                self._guarded("returns systems", lambda: self._poll.run_once(_now()))
                next_poll = time.monotonic() + settings.returns_system_poll_seconds
            if time.monotonic() >= next_sweep:
                self._guarded("sweep", lambda: self._sweep(_now()))
                next_sweep = time.monotonic() + settings.sweep_interval
            self._stop.wait(
                min(
                    settings.heartbeat_interval,
                    settings.sweep_interval,
                    settings.returns_system_poll_seconds,
                )
            )

    def _send_due_emails(self) -> None:
        runtime = self._runtime
        send_due(
            runtime.sessions,
            runtime.cipher,
            clock=_now,
            timeout=runtime.settings.http_timeout,
            reads=runtime.reads,
        )

    def _sweep(self, now: datetime) -> None:
        with self._runtime.sessions.begin() as session:
            push_sources.forget_deliveries(
                session, received_before=now - push_sources.DELIVERY_MEMORY
            )
        report = redrive.sweep(self._runtime, now=now)
        if report.healed:
            log.warning(
                "sweep healed stalled returns",
                examined=report.examined,
                **{k.value: v for k, v in report.healed.items()},
            )

    def _guarded(self, duty: str, run: Callable[[], object]) -> None:
        try:
            run()
        except Exception as error:
            log.error("housekeeping round failed", duty=duty, error=str(error))
