"""Alerts: drift episodes, their webhook events, and delivery through the outbox.

The lifecycle follows Prometheus Alertmanager, in three modules:

* :mod:`monitor.service.episodes` decides, from the notification state the
  store keeps per episode, whether a run sends ``drift.detected``,
  ``drift.repeated``, ``drift.resolved`` or nothing, and queues one alert per
  webhook in the store's outbox (the webhook's name, never its URL);
* :mod:`monitor.service.payload` builds the JSON event and the Slack message;
* :mod:`monitor.service.delivery` sends due alerts, signed per the Standard
  Webhooks specification, from a :class:`DeliveryWorker` thread of the daemon
  (or one :func:`flush_outbox` pass in ``run --once``), with ``Retry-After``,
  backoff with jitter, ``give_up_after`` and ``410 Gone`` handling.

This module gathers their public names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import httpx

from monitor.config import WebhookConfig
from monitor.service.delivery import (
    USER_AGENT,
    AttemptOutcome,
    DeliveryWorker,
    attempt_alert,
    backoff_delay,
    build_request,
    deliver_due,
    deliver_once,
    parse_retry_after,
)
from monitor.service.delivery import _utcnow as _delivery_now
from monitor.service.episodes import RunFinding, decide, is_active, record_run
from monitor.service.payload import (
    EVENTS,
    build_payload,
    drifted_columns,
    encode_payload,
    message_id_for,
    report_location,
    slack_message,
)
from monitor.store import AlertRecord, Store

__all__ = [
    "EVENTS",
    "USER_AGENT",
    "AttemptOutcome",
    "DeliveryWorker",
    "RunFinding",
    "attempt_alert",
    "backoff_delay",
    "build_payload",
    "build_request",
    "decide",
    "deliver_due",
    "deliver_once",
    "drifted_columns",
    "encode_payload",
    "flush_outbox",
    "is_active",
    "message_id_for",
    "parse_retry_after",
    "record_run",
    "report_location",
    "slack_message",
]


def flush_outbox(
    store: Store,
    webhooks: Mapping[str, WebhookConfig],
    *,
    client: httpx.Client | None = None,
    now: Callable[[], datetime] = _delivery_now,
) -> list[AlertRecord]:
    """Attempt every due alert once (:func:`deliver_due`) and return.

    It waits for no retry: an alert that fails now stays pending for a later
    pass. ``run --once`` calls this before it exits, so the time it takes is
    bounded by the webhooks' timeouts.

    :param client: reused when given; otherwise one (redirects not followed)
        is opened and closed here.
    :returns: the records of the alerts attempted or failed, after this pass.
    :raises StoreError: when the store cannot be read or written.
    """
    if client is not None:
        return deliver_due(store, webhooks, client, now=now)
    with httpx.Client(follow_redirects=False) as own:
        return deliver_due(store, webhooks, own, now=now)
