"""The alert outbox and its delivery attempts (the ``alerts`` and
``alert_attempts`` tables)."""

from __future__ import annotations

from datetime import datetime

from monitor.errors import StoreError
from monitor.store.codec import Row, _alert_record, _attempt_record, _to_db_time, _to_json
from monitor.store.comparisons import ComparisonsMixin
from monitor.store.records import AlertRecord, AlertStatus, AttemptRecord, JsonDict


class AlertsMixin(ComparisonsMixin):
    """Enqueueing alerts, finding the due ones and recording delivery attempts;
    an alert delivers one comparison, so this builds on :class:`ComparisonsMixin`."""

    def enqueue_alert(
        self,
        comparison_id: int,
        webhook: str,
        url: str,
        payload: JsonDict,
        idempotency_key: str,
    ) -> AlertRecord:
        """Put an alert in the outbox, due now, status ``"pending"``.

        Enqueueing the same ``(idempotency_key, webhook)`` again returns the
        existing alert unchanged (whatever its status).

        :param webhook: the configured webhook's name; ``url`` its address.
        :raises StoreError: ``"comparison 7 not found"``; ``payload`` is not
            JSON-serialisable.
        """
        payload_json = _to_json(payload, f"the payload of alert '{idempotency_key}'")
        with self._transaction(f"enqueue alert '{idempotency_key}'", write=True):
            existing = self._one(
                "SELECT * FROM alerts WHERE idempotency_key = ? AND webhook = ?",
                [idempotency_key, webhook],
            )
            if existing is not None:
                return _alert_record(existing)
            self._comparison_row(comparison_id)
            now = self._now()
            alert_id = self._insert(
                "alerts",
                {
                    "comparison_id": comparison_id,
                    "webhook": webhook,
                    "url": url,
                    "payload": payload_json,
                    "idempotency_key": idempotency_key,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                },
            )
            return _alert_record(self._alert_row(alert_id))

    def _alert_row(self, alert_id: int) -> Row:
        row = self._one("SELECT * FROM alerts WHERE id = ?", [alert_id])
        if row is None:
            raise StoreError(f"alert {alert_id} not found")
        return row

    def get_alert(self, alert_id: int) -> AlertRecord:
        """The alert with id ``alert_id``.

        :raises StoreError: ``"alert 7 not found"``.
        """
        with self._transaction(f"read alert {alert_id}", write=False):
            return _alert_record(self._alert_row(alert_id))

    def due_alerts(self, now: datetime) -> list[AlertRecord]:
        """Pending alerts whose ``next_attempt_at <= now``, oldest first.

        :param now: an aware datetime.
        """
        when = _to_db_time(now, "now")
        with self._transaction("list due alerts", write=False):
            rows = self._all(
                "SELECT * FROM alerts WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY created_at, id",
                [when],
            )
        return [_alert_record(row) for row in rows]

    def pending_alerts(self) -> list[AlertRecord]:
        """Every pending alert, due or not, oldest first."""
        with self._transaction("list pending alerts", write=False):
            rows = self._all(
                "SELECT * FROM alerts WHERE status = 'pending' ORDER BY created_at, id", []
            )
        return [_alert_record(row) for row in rows]

    def list_alerts(self, comparison_id: int | None = None) -> list[AlertRecord]:
        """Every alert (of one comparison when given), oldest first."""
        where, params = ("1", [])
        if comparison_id is not None:
            where, params = "comparison_id = ?", [comparison_id]
        with self._transaction("list alerts", write=False):
            rows = self._all(f"SELECT * FROM alerts WHERE {where} ORDER BY created_at, id", params)
        return [_alert_record(row) for row in rows]

    def record_attempt(
        self,
        alert_id: int,
        *,
        status_code: int | None,
        error: str | None,
        delivered: bool,
        next_attempt_at: datetime | None,
        give_up: bool = False,
    ) -> AlertRecord:
        """Record delivery attempt ``attempts + 1`` of a pending alert.

        ``delivered`` → status ``"delivered"`` with ``delivered_at`` = now;
        else ``give_up`` → status ``"failed"``; else the alert stays pending, due
        again at ``next_attempt_at``. ``last_error`` becomes ``error`` each time.

        :param next_attempt_at: an aware datetime; required when the alert
            stays pending.
        :raises StoreError: ``"alert 7 not found"``; the alert is not pending;
            ``next_attempt_at`` is missing or naive when needed.
        """
        status, due = self._attempt_outcome(delivered, give_up, next_attempt_at)
        with self._transaction(f"record an attempt of alert {alert_id}", write=True) as db:
            alert = self._alert_row(alert_id)
            if alert["status"] != "pending":
                raise StoreError(f"alert {alert_id} is {alert['status']}, not pending")
            now, attempt = self._now(), alert["attempts"] + 1
            self._insert(
                "alert_attempts",
                {"alert_id": alert_id, "attempt": attempt, "at": now,
                 "status_code": status_code, "error": error, "delivered": int(delivered)},
            )
            db.execute(
                "UPDATE alerts SET attempts = ?, status = ?, next_attempt_at = ?, "
                "delivered_at = ?, last_error = ? WHERE id = ?",
                [attempt, status, due or alert["next_attempt_at"],
                 now if delivered else None, error, alert_id],
            )
            return _alert_record(self._alert_row(alert_id))

    @staticmethod
    def _attempt_outcome(
        delivered: bool, give_up: bool, next_attempt_at: datetime | None
    ) -> tuple[AlertStatus, str | None]:
        if delivered:
            return "delivered", None
        if give_up:
            return "failed", None
        if next_attempt_at is None:
            raise StoreError("next_attempt_at is required when an alert stays pending")
        return "pending", _to_db_time(next_attempt_at, "next_attempt_at")

    def list_attempts(self, alert_id: int) -> list[AttemptRecord]:
        """Every attempt of one alert, by attempt number (1, 2, ...)."""
        with self._transaction(f"list attempts of alert {alert_id}", write=False):
            rows = self._all(
                "SELECT * FROM alert_attempts WHERE alert_id = ? ORDER BY attempt", [alert_id]
            )
        return [_attempt_record(row) for row in rows]
