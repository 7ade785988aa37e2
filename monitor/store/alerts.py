"""The alert outbox, its delivery attempts and the webhooks disabled by an
HTTP 410 (the ``alerts``, ``alert_attempts`` and ``webhook_states`` tables).

The outbox stores a webhook's name, never its URL, headers or secret."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from monitor.errors import StoreError
from monitor.store.codec import Row, _alert_record, _attempt_record, _from_db_time, _to_db_time, _to_json
from monitor.store.comparisons import ComparisonsMixin
from monitor.store.records import AlertRecord, AlertStatus, AttemptRecord, JsonDict, WebhookState


class AlertsMixin(ComparisonsMixin):
    """Enqueueing alerts, finding the due ones and recording delivery attempts;
    an alert delivers one comparison, so this builds on :class:`ComparisonsMixin`."""

    def enqueue_alert(
        self,
        comparison_id: int,
        webhook: str,
        payload: JsonDict,
        idempotency_key: str,
        *,
        episode_id: int | None = None,
        event: str = "drift.detected",
    ) -> AlertRecord:
        """Put an alert in the outbox, due now, status ``"pending"``.

        Only the webhook's name is stored, never its URL or headers.
        Enqueueing the same ``(idempotency_key, webhook)`` again returns the
        existing alert unchanged (whatever its status).

        :param webhook: the configured webhook's name.
        :param idempotency_key: the message id sent as ``webhook-id``.
        :raises StoreError: ``"comparison 7 not found"``; ``payload`` is not
            JSON-serialisable.
        """
        with self._transaction(f"enqueue alert '{idempotency_key}'", write=True):
            return self._enqueue(comparison_id, webhook, payload, idempotency_key, episode_id, event)

    def _enqueue(
        self, comparison_id: int, webhook: str, payload: JsonDict, key: str, episode_id: int | None, event: str
    ) -> AlertRecord:
        """Insert one outbox row inside the caller's write transaction."""
        payload_json = _to_json(payload, f"the payload of alert '{key}'")
        existing = self._one("SELECT * FROM alerts WHERE idempotency_key = ? AND webhook = ?", [key, webhook])
        if existing is not None:
            return _alert_record(existing)
        self._comparison_row(comparison_id)
        now = self._now()
        alert_id = self._insert(
            "alerts",
            {
                "comparison_id": comparison_id, "webhook": webhook, "payload": payload_json,
                "idempotency_key": key, "status": "pending", "attempts": 0,
                "next_attempt_at": now, "created_at": now, "episode_id": episode_id, "event": event,
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

    def due_alerts(self, now: datetime, *, skip_webhooks: Collection[str] = ()) -> list[AlertRecord]:
        """Pending alerts whose ``next_attempt_at <= now``, oldest first.

        :param now: an aware datetime.
        :param skip_webhooks: names whose alerts are left out (disabled webhooks).
        """
        when = _to_db_time(now, "now")
        with self._transaction("list due alerts", write=False):
            rows = self._all(
                "SELECT * FROM alerts WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY next_attempt_at, id",
                [when],
            )
        return [_alert_record(row) for row in rows if row["webhook"] not in skip_webhooks]

    def next_due_at(self, *, skip_webhooks: Collection[str] = ()) -> datetime | None:
        """When the earliest pending alert is due, or ``None`` when none is pending."""
        with self._transaction("find the next due alert", write=False):
            rows = self._all(
                "SELECT webhook, MIN(next_attempt_at) AS due FROM alerts WHERE status = 'pending' GROUP BY webhook",
                [],
            )
        times = [_from_db_time(r["due"]) for r in rows if r["webhook"] not in skip_webhooks]
        return min(times, default=None)

    def claim_alert(self, alert_id: int, now: datetime, lease_until: datetime) -> AlertRecord | None:
        """Take a due pending alert for one attempt: its ``next_attempt_at``
        becomes ``lease_until``, so no other worker (thread or process) sends it
        meanwhile, and a worker that dies mid-attempt leaves it due again later.

        :returns: the claimed alert, or ``None`` when it is no longer pending and
            due at ``now`` (another worker has it, or it is finished).
        """
        when, until = _to_db_time(now, "now"), _to_db_time(lease_until, "lease_until")
        with self._transaction(f"claim alert {alert_id}", write=True) as db:
            cursor = db.execute(
                "UPDATE alerts SET next_attempt_at = ? WHERE id = ? AND status = 'pending' "
                "AND next_attempt_at <= ?",
                [until, alert_id, when],
            )
            if cursor.rowcount != 1:
                return None
            return _alert_record(self._alert_row(alert_id))

    def postpone_alerts(self, webhook: str, until: datetime) -> int:
        """Make the pending alerts of ``webhook`` due no sooner than ``until``
        (its endpoint is down: one alert probes it, the others wait).

        :returns: how many alerts were postponed.
        """
        when = _to_db_time(until, "until")
        with self._transaction(f"postpone the alerts of webhook '{webhook}'", write=True) as db:
            cursor = db.execute(
                "UPDATE alerts SET next_attempt_at = ? WHERE webhook = ? AND status = 'pending' "
                "AND next_attempt_at < ?",
                [when, webhook, when],
            )
            return int(cursor.rowcount)

    def fail_pending_alerts(self, webhook: str, reason: str) -> list[AlertRecord]:
        """Mark every pending alert of ``webhook`` ``failed`` with ``reason``
        (e.g. the webhook is no longer configured); no attempt is recorded.

        :returns: the failed alerts.
        """
        with self._transaction(f"fail the alerts of webhook '{webhook}'", write=True) as db:
            ids = [r["id"] for r in self._all(
                "SELECT id FROM alerts WHERE webhook = ? AND status = 'pending'", [webhook])]
            db.execute(
                "UPDATE alerts SET status = 'failed', last_error = ? WHERE webhook = ? AND status = 'pending'",
                [reason, webhook],
            )
            return [_alert_record(self._alert_row(i)) for i in ids]

    def disable_webhook(self, webhook: str, reason: str, config_digest: str) -> None:
        """Record that ``webhook`` is disabled until its configuration changes.

        :param config_digest: a salted digest of the configuration it was
            disabled with (never the configuration itself: it may hold a token),
            so the caller can tell when the configuration changed.
        """
        with self._transaction(f"disable webhook '{webhook}'", write=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO webhook_states (webhook, disabled_at, reason, config_digest) "
                "VALUES (?, ?, ?, ?)",
                [webhook, self._now(), reason, config_digest],
            )

    def webhook_states(self) -> dict[str, WebhookState]:
        """The disabled webhooks by name (see :meth:`disable_webhook`)."""
        with self._transaction("read the webhook states", write=False):
            rows = self._all("SELECT * FROM webhook_states ORDER BY webhook", [])
        return {r["webhook"]: WebhookState(r["webhook"], _from_db_time(r["disabled_at"]), r["reason"],
                                           r["config_digest"]) for r in rows}

    def enable_webhook(self, webhook: str) -> bool:
        """Forget that ``webhook`` was disabled. :returns: whether it was."""
        with self._transaction(f"enable webhook '{webhook}'", write=True) as db:
            return int(db.execute("DELETE FROM webhook_states WHERE webhook = ?", [webhook]).rowcount) > 0

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
