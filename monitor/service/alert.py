"""Webhook alerts: payloads, signing and delivery through the store's outbox.

An alert is first written to the store's outbox (:meth:`Store.enqueue_alert`), then
POSTed to its webhook. Every attempt is recorded. A webhook that is down is retried
with exponential backoff: up to ``WebhookConfig.max_attempts`` times within one call
of :func:`deliver_alert`, then again by every later :func:`flush_outbox` once the
alert's ``next_attempt_at`` has passed, forever, until the endpoint answers; after a
restart too, since the outbox lives in the store. Every attempt of one alert carries
the same ``Idempotency-Key`` header, so a receiver can drop duplicates (an attempt
may reach the receiver even when its answer is lost on the way back).

A request is classified by :func:`deliver_once`:

* ``2xx``: delivered;
* ``5xx``, ``408``, ``429``, a timeout or a connection error: retryable, the alert
  stays ``pending``;
* any other status (``3xx``, other ``4xx``): permanent, the alert is marked
  ``failed`` and never sent again, since retrying the same request to the same URL
  cannot heal a ``404`` or a ``401``. Redirects are not followed.

A dead endpoint never makes these functions raise: the problem is logged and the
alert waits in the outbox.

Signature
---------
When the webhook has a ``secret``, each request carries::

    X-Drift-Monitor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

where the HMAC key is the secret (UTF-8) and the message is
``f"{t}.".encode() + body`` (the raw request body, as received). A receiver
recomputes the HMAC, compares it with :func:`hmac.compare_digest`, and rejects a
``t`` too far from its own clock to stop replays (the scheme Stripe uses). The
timestamp is fresh on every attempt; the idempotency key is not.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import metadata
from typing import TYPE_CHECKING, Any

import httpx

from monitor.config import WebhookConfig
from monitor.errors import StoreError
from monitor.service.metrics import count_delivery

if TYPE_CHECKING:
    from monitor.store import AlertRecord, Store

__all__ = [
    "EVENT",
    "SIGNATURE_HEADER",
    "AttemptOutcome",
    "backoff_delay",
    "build_headers",
    "build_payload",
    "deliver_alert",
    "deliver_once",
    "encode_payload",
    "enqueue_and_deliver",
    "flush_outbox",
    "idempotency_key_for",
    "sign",
]

log = logging.getLogger(__name__)

EVENT = "drift.detected"
SIGNATURE_HEADER = "X-Drift-Monitor-Signature"
RETRYABLE_STATUSES = frozenset({408, 429})

Now = Callable[[], datetime]
Sleep = Callable[[float], None]


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _version() -> str:
    try:
        return metadata.version("drift-monitor")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"drift-monitor/{_version()}"


# --------------------------------------------------------------------- payload


def idempotency_key_for(monitor: str, baseline: str, target: str) -> str:
    """The idempotency key of the alert for one comparison.

    :returns: the first 32 hex characters of SHA-256 over
        ``"{monitor}|{baseline}|{target}"`` (UTF-8); the same comparison always
        gives the same key.
    """
    text = f"{monitor}|{baseline}|{target}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def build_payload(
    *,
    dataset: str,
    monitor: str,
    baseline: str,
    target: str,
    verdict: dict[str, Any],
    drifted_columns: list[dict[str, Any]],
    report_path: str | None,
    created_at: datetime,
) -> dict[str, Any]:
    """The JSON body of a ``drift.detected`` webhook.

    :param baseline: name of the baseline snapshot.
    :param target: name of the compared (new) snapshot.
    :param verdict: the dataset verdict (e.g. ``drifted``, ``severity``,
        ``drifted_columns`` count, ``share``), copied as given.
    :param drifted_columns: one mapping per drifted column with ``column``,
        ``severity`` and ``metrics`` (metric name -> value).
    :param created_at: when the comparison ran; a naive datetime is taken as UTC.
    :returns: a JSON-able dict: NaN and infinity become ``None``, numpy scalars
        become Python numbers, ``created_at`` is ISO 8601 in UTC.
    :raises KeyError: when an entry of ``drifted_columns`` has no ``column``.
    """
    payload = {
        "event": EVENT,
        "dataset": dataset,
        "monitor": monitor,
        "baseline_snapshot": baseline,
        "target_snapshot": target,
        "verdict": dict(verdict),
        "drifted_columns": [_column_entry(entry) for entry in drifted_columns],
        "report_path": report_path,
        "created_at": _iso_utc(created_at),
        "idempotency_key": idempotency_key_for(monitor, baseline, target),
    }
    result: dict[str, Any] = _jsonable(payload)
    return result


def _column_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "column": entry["column"],
        "severity": entry.get("severity"),
        "metrics": dict(entry.get("metrics") or {}),
    }


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _jsonable(value: Any) -> Any:
    """``value`` with every part turned into a JSON type (NaN/inf -> None)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return _iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _jsonable(value.item())
    return str(value)


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """The request body: compact JSON with sorted keys, UTF-8.

    Non-JSON values are converted as in :func:`build_payload`, so this never fails
    on NaN or numpy scalars.
    """
    text = json.dumps(_jsonable(payload), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.encode("utf-8")


# --------------------------------------------------------------------- signing


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Drift-Monitor-Signature`` header value for a request body.

    :param body: the exact bytes sent.
    :param secret: the webhook's shared secret (UTF-8 encoded as the HMAC key).
    :param timestamp: Unix time in seconds, sent as ``t``.
    :returns: ``"t=<timestamp>,v1=<hex HMAC-SHA256 of f'{timestamp}.' + body>"``.
    """
    message = f"{timestamp}.".encode("ascii") + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def build_headers(body: bytes, idempotency_key: str, webhook: WebhookConfig, timestamp: int) -> dict[str, str]:
    """The headers of one attempt.

    ``Content-Type`` and ``User-Agent`` come first and may be overridden by the
    webhook's configured ``headers``; ``Idempotency-Key`` and, with a secret, the
    signature are always the ones computed here.

    :param timestamp: Unix time in seconds used for the signature.
    """
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    _merge(headers, webhook.headers)
    fixed = {"Idempotency-Key": idempotency_key}
    if webhook.secret:
        fixed[SIGNATURE_HEADER] = sign(body, webhook.secret, timestamp)
    _merge(headers, fixed)
    return headers


def _merge(headers: dict[str, str], extra: Mapping[str, str]) -> None:
    """Set ``extra`` in ``headers``, replacing names that differ only in case."""
    for name, value in extra.items():
        for old in [k for k in headers if k.lower() == name.lower()]:
            del headers[old]
        headers[name] = value


# -------------------------------------------------------------------- delivery


@dataclass(frozen=True)
class AttemptOutcome:
    """The result of one HTTP attempt.

    :ivar status_code: the HTTP status, or ``None`` when no response came.
    :ivar error: why it was not delivered (``None`` when delivered).
    :ivar delivered: the endpoint answered ``2xx``.
    :ivar retryable: a later attempt may succeed (``False`` when delivered).
    """

    status_code: int | None
    error: str | None
    delivered: bool
    retryable: bool


def deliver_once(
    client: httpx.Client, url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> AttemptOutcome:
    """POST ``body`` to ``url`` once and classify the answer.

    :param timeout: seconds allowed for each of connecting, sending and reading.
    :returns: see the module docstring for which outcomes are retryable.
        Never raises for network or HTTP problems.
    """
    try:
        response = client.post(url, content=body, headers=dict(headers), timeout=timeout)
    except httpx.TimeoutException as exc:
        return AttemptOutcome(None, f"timed out after {timeout:g}s ({type(exc).__name__})", False, True)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        return AttemptOutcome(None, f"invalid URL: {exc}", False, False)
    except httpx.HTTPError as exc:
        return AttemptOutcome(None, f"{type(exc).__name__}: {exc}", False, True)
    return _classify(response)


def _classify(response: httpx.Response) -> AttemptOutcome:
    status = response.status_code
    if 200 <= status < 300:
        return AttemptOutcome(status, None, True, False)
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    snippet = response.text[:200].strip()
    error = f"HTTP {status} {response.reason_phrase}".rstrip() + (f": {snippet}" if snippet else "")
    return AttemptOutcome(status, error, False, retryable)


def backoff_delay(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    :returns: ``min(cap, base * 2 ** (attempt - 1))``: 1, 2, 4, 8, ... seconds with
        the defaults, never more than 5 minutes. Deterministic (no jitter).
    :raises ValueError: when ``attempt`` < 1 or ``base``/``cap`` is negative.
    """
    if attempt < 1 or base < 0 or cap < 0:
        raise ValueError("attempt must be >= 1 and base, cap >= 0")
    return min(cap, base * 2.0 ** min(attempt - 1, 60))


def deliver_alert(
    store: Store,
    alert: AlertRecord,
    webhook: WebhookConfig,
    *,
    client: httpx.Client | None = None,
    sleep: Sleep = time.sleep,
    now: Now = _utcnow,
) -> AlertRecord:
    """Send one outbox alert, retrying up to ``webhook.max_attempts`` times.

    The alert's stored ``url`` and ``payload`` are used (the payload is encoded
    once by :func:`encode_payload`); every attempt carries the alert's idempotency
    key and is recorded with :meth:`Store.record_attempt`. Between attempts it
    sleeps ``backoff_delay(k)`` seconds after the k-th attempt of this call. When
    every attempt failed, the alert stays ``pending`` with ``next_attempt_at =
    now() + backoff_delay(total attempts so far)`` for :func:`flush_outbox`; a
    permanent failure (see :func:`deliver_once`) marks it ``failed``.

    :param client: reused when given; otherwise one is opened and closed here.
    :param sleep: called with seconds to wait between attempts.
    :param now: the current time, timezone-aware.
    :returns: the alert's record after the last attempt; an alert that is not
        ``pending`` is returned unchanged, without a request.
    :raises StoreError: when the store cannot record an attempt. Network and HTTP
        problems never raise.
    """
    if alert.status != "pending":
        log.debug("alert %s is %s; not sent again", alert.id, alert.status)
        return alert
    body = encode_payload(alert.payload)
    record = alert
    with _client_scope(client) as http:
        for attempt in range(1, webhook.max_attempts + 1):
            headers = build_headers(body, alert.idempotency_key, webhook, int(now().timestamp()))
            outcome = deliver_once(http, alert.url, body, headers, webhook.timeout)
            last = attempt == webhook.max_attempts
            record = _record(store, record, outcome, attempt, last, now, webhook.timeout)
            if record.status != "pending":
                break
            if not last:
                sleep(backoff_delay(attempt))
    return record


def _record(
    store: Store, record: AlertRecord, outcome: AttemptOutcome, attempt: int, last: bool, now: Now, timeout: float
) -> AlertRecord:
    """Store one attempt's outcome and log it; returns the updated record.

    Before the last attempt of a call, the alert is due again after the sleep and
    the next attempt's timeout, so an outbox flush elsewhere leaves it alone
    meanwhile but picks it up if this process dies. If another worker finished
    the alert in the meantime, its current record is returned.
    """
    give_up = not outcome.delivered and not outcome.retryable
    delay = backoff_delay(record.attempts + 1) if last else backoff_delay(attempt) + timeout
    next_at = None if outcome.delivered or give_up else now() + timedelta(seconds=delay)
    try:
        updated = store.record_attempt(
            record.id,
            status_code=outcome.status_code,
            error=outcome.error,
            delivered=outcome.delivered,
            next_attempt_at=next_at,
            give_up=give_up,
        )
    except StoreError:
        current = store.get_alert(record.id)
        if current.status == "pending":
            raise
        log.warning("alert %s became %s elsewhere during this attempt", record.id, current.status)
        return current
    _log_outcome(updated, outcome, give_up, next_at)
    count_delivery(updated.webhook, "delivered" if outcome.delivered else "failed" if give_up else "retrying")
    return updated


def _log_outcome(record: AlertRecord, outcome: AttemptOutcome, give_up: bool, next_at: datetime | None) -> None:
    where = f"alert {record.id} to webhook {record.webhook!r} (attempt {record.attempts})"
    if outcome.delivered:
        log.info("%s delivered: HTTP %s", where, outcome.status_code)
    elif give_up:
        log.error("%s failed permanently, not retried: %s", where, outcome.error)
    else:
        log.warning("%s failed: %s; next attempt at %s", where, outcome.error, next_at)


@contextmanager
def _client_scope(client: httpx.Client | None) -> Iterator[httpx.Client]:
    """``client`` itself, or a new client closed on exit when it is ``None``."""
    if client is not None:
        yield client
        return
    with httpx.Client(follow_redirects=False) as own:
        yield own


# ---------------------------------------------------------------------- outbox


def flush_outbox(
    store: Store,
    webhooks: Mapping[str, WebhookConfig],
    *,
    now: Now = _utcnow,
    sleep: Sleep = time.sleep,
    client: httpx.Client | None = None,
) -> list[AlertRecord]:
    """Deliver every alert whose ``next_attempt_at`` has passed.

    Call it on start (alerts left pending before a restart are sent then) and
    periodically. An alert whose webhook is no longer configured is logged and left
    pending. Once an alert to a webhook stays pending (the endpoint is still
    down), the other due alerts to that webhook wait for the next flush instead of
    each going through every attempt.

    :param webhooks: the configured webhooks by name.
    :returns: the records of the alerts attempted, after their attempts.
    :raises StoreError: when the store cannot be read or written.
    """
    results: list[AlertRecord] = []
    down: set[str] = set()
    with _client_scope(client) as http:
        for alert in store.due_alerts(now()):
            webhook = webhooks.get(alert.webhook)
            if webhook is None:
                log.warning("alert %s: webhook %r is not configured; left in the outbox", alert.id, alert.webhook)
                continue
            if alert.webhook in down:
                continue
            record = deliver_alert(store, alert, webhook, client=http, sleep=sleep, now=now)
            if record.status == "pending":
                down.add(alert.webhook)
            results.append(record)
    return results


def enqueue_and_deliver(
    store: Store,
    comparison_id: int,
    payload: Mapping[str, Any],
    webhook_names: Sequence[str],
    webhooks: Mapping[str, WebhookConfig],
    *,
    now: Now = _utcnow,
    sleep: Sleep = time.sleep,
    client: httpx.Client | None = None,
) -> list[AlertRecord]:
    """Put one alert per named webhook in the outbox, then deliver each.

    All alerts are enqueued before the first request, so a crash mid-way loses
    none. Enqueueing is idempotent on (idempotency key, webhook): calling this again
    for the same comparison sends nothing new for an alert already delivered.

    :param payload: a :func:`build_payload` result; its ``idempotency_key`` is used.
    :param webhook_names: the monitor's webhooks (duplicates count once); a name
        missing from ``webhooks`` is logged and skipped.
    :returns: the records of the enqueued alerts after delivery, in name order given.
    :raises ValueError: when the payload has no ``idempotency_key``.
    :raises StoreError: when the store cannot be written.
    """
    key = payload.get("idempotency_key")
    if not isinstance(key, str) or not key:
        raise ValueError("payload has no idempotency_key; build it with build_payload()")
    alerts = []
    for name in dict.fromkeys(webhook_names):
        if name not in webhooks:
            log.error("comparison %s: webhook %r is not configured; no alert sent", comparison_id, name)
            continue
        alerts.append(store.enqueue_alert(comparison_id, name, webhooks[name].url, dict(payload), key))
    with _client_scope(client) as http:
        return [deliver_alert(store, a, webhooks[a.webhook], client=http, sleep=sleep, now=now) for a in alerts]
