"""Webhook delivery: one attempt at a time per alert, outside the monitor jobs.

The monitor job only queues alerts in the store's outbox and wakes the
:class:`DeliveryWorker`, a thread of the daemon that sends whatever is due, so a
slow or dead endpoint delays no run and never holds shutdown. ``run --once``
calls :func:`deliver_due` once before it exits instead.

The outbox names the webhook; its URL, headers and secret are read from the
current configuration at each attempt (a rotated token takes effect at once; a
webhook removed from the configuration fails its pending alerts with that
reason). Before each attempt the alert is *claimed* in the store (its due time
moves to the end of a lease), so no other worker, thread or process, sends it
while the attempt is in flight.

Each answer is classified:

* ``2xx``: delivered;
* ``408``, ``429``, ``5xx``, a timeout or a connection error: retried, after
  the ``Retry-After`` the endpoint gave (seconds or an HTTP date), else after
  an exponential backoff with jitter, until ``give_up_after`` has passed since
  the alert was queued; then failed;
* ``410 Gone``: failed, and the webhook is disabled until its configuration
  changes (its other alerts wait meanwhile);
* any other status (``3xx``: redirects are not followed, other ``4xx``):
  failed at once.

Requests of ``format: standard`` webhooks follow the Standard Webhooks
specification: ``webhook-id`` (the alert's message id, the same on every
attempt and after a restart), ``webhook-timestamp`` and, with a ``secret``,
``webhook-signature`` computed by the ``standardwebhooks`` library. A receiver
verifies with ``Webhook(secret).verify(body, headers)``. ``format: slack``
requests carry a Slack message and no signature.

Logs name the webhook, never its URL; error texts have URLs removed.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import random
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import metadata

import httpx
from standardwebhooks import Webhook

from monitor.config import WebhookConfig
from monitor.errors import MonitorError, StoreError
from monitor.service.metrics import count_delivery
from monitor.service.payload import encode_payload, slack_message
from monitor.store import AlertRecord, Store

__all__ = [
    "AttemptOutcome",
    "DeliveryWorker",
    "attempt_alert",
    "backoff_delay",
    "build_request",
    "config_digest",
    "deliver_due",
    "deliver_once",
    "parse_retry_after",
]

log = logging.getLogger(__name__)
for _name in ("httpx", "httpcore"):  # their INFO/DEBUG lines name request URLs
    logging.getLogger(_name).setLevel(logging.WARNING)

RETRYABLE_STATUSES = frozenset({408, 429})
IDLE_WAIT = 60.0
"""Seconds the worker sleeps at most when nothing is due (a wake() ends it early)."""

Now = Callable[[], datetime]
_URL = re.compile(r"https?://\S+")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _version() -> str:
    try:
        return metadata.version("drift-monitor")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT = f"drift-monitor/{_version()}"


# --------------------------------------------------------------------- request


def build_request(alert: AlertRecord, webhook: WebhookConfig, at: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt.

    ``Content-Type`` and ``User-Agent`` come first and may be overridden by the
    webhook's ``headers``; the ``webhook-*`` headers are always the ones
    computed here.

    :param at: the attempt's time; its whole seconds are ``webhook-timestamp``.
    :returns: ``(body, headers)``.
    """
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    _merge(headers, webhook.headers)
    if webhook.format == "slack":
        return encode_payload(slack_message(alert.payload)), headers
    body = encode_payload(alert.payload)
    stamp = int(at.timestamp())
    fixed = {"webhook-id": alert.idempotency_key, "webhook-timestamp": str(stamp)}
    if webhook.secret:
        moment = datetime.fromtimestamp(stamp, timezone.utc)
        fixed["webhook-signature"] = Webhook(webhook.secret).sign(alert.idempotency_key, moment, body.decode("utf-8"))
    _merge(headers, fixed)
    return body, headers


def _merge(headers: dict[str, str], extra: Mapping[str, str]) -> None:
    """Set ``extra`` in ``headers``, replacing names that differ only in case."""
    for name, value in extra.items():
        for old in [k for k in headers if k.lower() == name.lower()]:
            del headers[old]
        headers[name] = value


def config_digest(webhook: WebhookConfig, salt: str | None = None) -> str:
    """A salted digest of a webhook's configuration: ``"<salt>$<hex SHA-256>"``.

    Stored when a webhook is disabled, so a changed configuration can be told
    apart without storing its URL or secret.

    :param salt: reuse the salt of a stored digest to compare; new when ``None``.
    """
    salt = salt or secrets.token_hex(8)
    text = salt + webhook.model_dump_json()
    return f"{salt}${hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def _same_config(digest: str, webhook: WebhookConfig) -> bool:
    salt = digest.split("$", 1)[0]
    return config_digest(webhook, salt) == digest


# --------------------------------------------------------------- one attempt


@dataclass(frozen=True)
class AttemptOutcome:
    """The result of one HTTP attempt.

    :ivar status_code: the HTTP status, or ``None`` when no response came.
    :ivar error: why it was not delivered (``None`` when delivered); no URL.
    :ivar delivered: the endpoint answered ``2xx``.
    :ivar retryable: a later attempt may succeed (``False`` when delivered).
    :ivar retry_after: seconds the endpoint asked to wait (``Retry-After``), or ``None``.
    :ivar gone: the endpoint answered ``410 Gone``.
    """

    status_code: int | None
    error: str | None
    delivered: bool
    retryable: bool
    retry_after: float | None = None
    gone: bool = False


def deliver_once(
    client: httpx.Client, url: str, body: bytes, headers: Mapping[str, str], timeout: float
) -> AttemptOutcome:
    """POST ``body`` to ``url`` once and classify the answer (see the module docstring).

    :param timeout: seconds allowed for each of connecting, sending and reading.
    :returns: the outcome; never raises for network or HTTP problems.
    """
    try:
        response = client.post(url, content=body, headers=dict(headers), timeout=timeout)
    except httpx.TimeoutException as exc:
        return AttemptOutcome(None, f"timed out after {timeout:g}s ({type(exc).__name__})", False, True)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        return AttemptOutcome(None, f"invalid URL: {_scrub(str(exc), url)}", False, False)
    except httpx.HTTPError as exc:
        return AttemptOutcome(None, f"{type(exc).__name__}: {_scrub(str(exc), url)}", False, True)
    return _classify(response)


def _scrub(text: str, url: str) -> str:
    """``text`` without ``url`` or any other URL (they may carry tokens)."""
    return _URL.sub("<url>", text.replace(url, "<url>"))


def _classify(response: httpx.Response) -> AttemptOutcome:
    status = response.status_code
    if 200 <= status < 300:
        return AttemptOutcome(status, None, True, False)
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    snippet = _scrub(response.text[:200].strip(), str(response.request.url))
    error = f"HTTP {status} {response.reason_phrase}".rstrip() + (f": {snippet}" if snippet else "")
    after = parse_retry_after(response.headers.get("Retry-After"), _utcnow()) if retryable else None
    return AttemptOutcome(status, error, False, retryable, after, status == 410)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (RFC 9110 section 10.2.3).

    :param value: delay-seconds (``"120"``) or an HTTP date.
    :returns: seconds, >= 0; ``None`` when missing or unreadable.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def backoff_delay(attempt: int, base: float = 1.0, cap: float = 300.0) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based), before jitter.

    :returns: ``min(cap, base * 2 ** (attempt - 1))``: 1, 2, 4, 8, ... seconds with
        the defaults, never more than 5 minutes.
    :raises ValueError: when ``attempt`` < 1 or ``base``/``cap`` is negative.
    """
    if attempt < 1 or base < 0 or cap < 0:
        raise ValueError("attempt must be >= 1 and base, cap >= 0")
    return min(cap, base * 2.0 ** min(attempt - 1, 60))


def _jittered(delay: float) -> float:
    """``delay`` times a uniform factor in [0.5, 1) ("equal jitter"), so alerts
    that failed together do not retry together."""
    return delay * (0.5 + random.random() / 2)  # noqa: S311 - not cryptographic


def _lease(webhook: WebhookConfig) -> timedelta:
    """How long a claimed alert is held: longer than any one attempt takes."""
    return timedelta(seconds=4 * webhook.timeout + 5)


def attempt_alert(
    store: Store, alert: AlertRecord, name_config: WebhookConfig, client: httpx.Client, *, now: Now = _utcnow
) -> tuple[AlertRecord, AttemptOutcome] | None:
    """Claim a due alert, POST it once to its webhook and record the outcome.

    :param name_config: the current configuration of ``alert.webhook``.
    :returns: the alert's record after the attempt and the outcome, or ``None``
        when the alert was no longer due (another worker has it or finished it).
    :raises StoreError: when the store cannot be written.
    """
    start = now()
    claimed = store.claim_alert(alert.id, start, start + _lease(name_config))
    if claimed is None:
        return None
    body, headers = build_request(claimed, name_config, start)
    outcome = deliver_once(client, name_config.url, body, headers, name_config.timeout)
    return _record(store, claimed, name_config, outcome, now()), outcome


def _record(
    store: Store, alert: AlertRecord, webhook: WebhookConfig, outcome: AttemptOutcome, at: datetime
) -> AlertRecord:
    """Store one attempt's outcome and log it; returns the updated record."""
    error, next_at, give_up = outcome.error, None, not outcome.delivered and not outcome.retryable
    if outcome.retryable:
        deadline = alert.created_at + webhook.give_up_delta
        wait = outcome.retry_after if outcome.retry_after is not None else _jittered(
            backoff_delay(alert.attempts + 1))
        next_at = at + timedelta(seconds=wait)
        if at >= deadline or (outcome.retry_after is not None and next_at > deadline):
            give_up, next_at = True, None
            error = f"{error}; gave up: not delivered within give_up_after {webhook.give_up_after}"
        else:
            next_at = min(next_at, deadline)
    try:
        updated = store.record_attempt(alert.id, status_code=outcome.status_code, error=error,
                                       delivered=outcome.delivered, next_attempt_at=next_at, give_up=give_up)
    except StoreError:
        current = store.get_alert(alert.id)
        if current.status == "pending":
            raise
        log.warning("alert %s became %s elsewhere during this attempt", alert.id, current.status)
        return current
    _log_outcome(updated, outcome, error)
    count_delivery(updated.webhook, "delivered" if outcome.delivered else "failed" if give_up else "retrying")
    return updated


def _log_outcome(record: AlertRecord, outcome: AttemptOutcome, error: str | None) -> None:
    where = f"alert {record.id} ({record.event}) to webhook {record.webhook!r} (attempt {record.attempts})"
    fields = {"webhook": record.webhook, "webhook_id": record.idempotency_key, "event": record.event,
              "attempt": record.attempts, "status_code": outcome.status_code}
    if outcome.delivered:
        log.info("%s delivered: HTTP %s", where, outcome.status_code, extra=fields)
    elif record.status == "failed":
        log.error("%s failed permanently, not retried: %s", where, error, extra=fields)
    else:
        log.warning("%s failed: %s; next attempt at %s", where, error, record.next_attempt_at.isoformat(),
                    extra=fields)


# ------------------------------------------------------------------ one pass


def deliver_due(
    store: Store, webhooks: Mapping[str, WebhookConfig], client: httpx.Client, *, now: Now = _utcnow,
    should_stop: Callable[[], bool] = lambda: False,
) -> list[AlertRecord]:
    """Attempt every due alert once; fail those whose webhook is gone.

    Alerts of a webhook no longer in ``webhooks`` are failed with that reason.
    Alerts of a disabled webhook (see :func:`disabled_webhooks`) wait. Once an
    alert to a webhook stays pending (its endpoint is down), the other alerts to
    that webhook wait until that alert's next attempt instead of each probing it.

    :param webhooks: the current configuration's webhooks by name.
    :param should_stop: checked before each attempt; ``True`` ends the pass.
    :returns: the records, after this pass, of the alerts attempted or failed.
    :raises StoreError: when the store cannot be read or written.
    """
    results = _fail_unconfigured(store, webhooks)
    disabled = set(disabled_webhooks(store, webhooks))
    down: set[str] = set()
    for alert in store.due_alerts(now(), skip_webhooks=disabled):
        if should_stop():
            break
        if alert.webhook in down or alert.webhook in disabled or alert.webhook not in webhooks:
            continue
        done = attempt_alert(store, alert, webhooks[alert.webhook], client, now=now)
        if done is None:
            continue
        record, outcome = done
        results.append(record)
        if outcome.gone:
            _disable(store, alert.webhook, webhooks[alert.webhook], record)
            disabled.add(alert.webhook)
        elif record.status == "pending":
            down.add(alert.webhook)
            store.postpone_alerts(alert.webhook, record.next_attempt_at)
    return results


def _fail_unconfigured(store: Store, webhooks: Mapping[str, WebhookConfig]) -> list[AlertRecord]:
    failed: list[AlertRecord] = []
    for name in sorted({a.webhook for a in store.pending_alerts()} - set(webhooks)):
        records = store.fail_pending_alerts(name, f"webhook {name!r} is no longer configured")
        log.error("webhook %r is no longer configured: %d pending alert(s) failed", name, len(records))
        failed.extend(records)
    return failed


def disabled_webhooks(store: Store, webhooks: Mapping[str, WebhookConfig]) -> dict[str, str]:
    """The webhooks disabled by a 410 whose configuration has not changed since.

    A disabled webhook whose configuration changed (or that is gone) is enabled
    again, and that is logged.

    :returns: name -> the reason it was disabled.
    """
    out: dict[str, str] = {}
    for name, state in store.webhook_states().items():
        if name in webhooks and _same_config(state.config_digest, webhooks[name]):
            out[name] = state.reason
        elif store.enable_webhook(name):
            log.warning("webhook %r: its configuration changed; enabled again", name)
    return out


def _disable(store: Store, name: str, webhook: WebhookConfig, record: AlertRecord) -> None:
    reason = f"HTTP 410 Gone for alert {record.id}"
    store.disable_webhook(name, reason, config_digest(webhook))
    log.error("webhook %r answered 410 Gone: disabled until its configuration changes; "
              "its other alerts wait", name)


# -------------------------------------------------------------------- worker


class DeliveryWorker:
    """A thread that delivers due alerts until stopped.

    It opens its own connection to the store, runs :func:`deliver_due`, then
    sleeps until the next alert is due (at most :data:`IDLE_WAIT` seconds) or
    :meth:`wake` is called. A failing store is logged and retried; it never
    ends the thread.

    :param store_path: the SQLite store of the daemon.
    :param webhooks: returns the current configuration's webhooks by name;
        called before every pass, so a new configuration applies to alerts
        already queued.
    """

    def __init__(self, store_path: str, webhooks: Callable[[], Mapping[str, WebhookConfig]],
                 *, now: Now = _utcnow) -> None:
        self._store_path = store_path
        self._webhooks = webhooks
        self._now = now
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delivery", daemon=True)

    def start(self) -> None:
        """Start the thread (once)."""
        self._thread.start()

    def wake(self) -> None:
        """Deliver now: called after alerts were queued."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the thread to stop and wait up to ``timeout`` seconds.

        An attempt in flight is abandoned after the timeout (the thread is a
        daemon thread); its alert is claimed with a lease and sent again after a
        restart.

        :returns: ``True`` when the thread has ended.
        """
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            with Store(self._store_path) as store, httpx.Client(follow_redirects=False) as client:
                while not self._stopping.is_set():
                    self._wake.clear()
                    self._wake.wait(self._pass(store, client))
        except MonitorError as exc:
            log.error("alert delivery stopped: %s", exc)

    def _pass(self, store: Store, client: httpx.Client) -> float:
        """One delivery pass; returns the seconds to sleep before the next."""
        try:
            webhooks = self._webhooks()
            deliver_due(store, webhooks, client, now=self._now, should_stop=self._stopping.is_set)
            due = store.next_due_at(skip_webhooks=disabled_webhooks(store, webhooks))
        except MonitorError as exc:
            log.error("alert delivery: %s; retrying in %gs", exc, IDLE_WAIT)
            return IDLE_WAIT
        if due is None:
            return IDLE_WAIT
        return min(IDLE_WAIT, max(0.0, (due - self._now()).total_seconds()))
