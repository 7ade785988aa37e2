"""Webhook payloads, Standard Webhooks signing and one delivery pass against a
real HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Receiver, free_port
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from monitor.config import WebhookConfig
from monitor.service.alert import (
    AttemptOutcome,
    backoff_delay,
    build_payload,
    build_request,
    deliver_once,
    drifted_columns,
    encode_payload,
    flush_outbox,
    message_id_for,
    parse_retry_after,
    report_location,
    slack_message,
)
from monitor.store import AlertRecord, Store

T0 = datetime.now(timezone.utc).replace(microsecond=0)
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as c:
        yield c


# -------------------------------------------------------------------- store


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    opened = Store(store_path, clock=lambda: T0)
    yield opened
    opened.close()


@pytest.fixture
def comparison_id(store: Store) -> int:
    store.register_dataset("flights", {"path": "flights.csv"})
    snapshots = []
    for name in ("s1", "s2"):
        snapshot = store.begin_snapshot("flights", name)
        store.complete_snapshot(
            snapshot.id, profile={"format_version": 1}, columns=[], row_count=0, fingerprint=name
        )
        snapshots.append(snapshot)
    comparison = store.record_comparison(
        monitor="flights-daily", dataset="flights", baseline=snapshots[0], target=snapshots[1],
        drifted=True, severity="critical", result={}, report_path=None,
    )
    return comparison.id


COLUMNS = [{"column": "dep_delay", "severity": "critical", "metrics": {"psi": 0.31},
            "metric": "psi", "value": 0.31, "threshold": 0.25}]


def make_payload(target: str = "s2", event: str = "drift.detected") -> dict[str, Any]:
    return build_payload(
        event=event, episode_id="e" * 32, episode_started_at=T0, dataset="flights", monitor="flights-daily",
        baseline="s1", target=target,
        verdict={"drifted": True, "severity": "critical", "drifted_columns": 1, "columns_compared": 3},
        columns=COLUMNS, changes=None, report_path="current/s2.html", report_url=None, created_at=T0,
        message_id=message_id_for("e" * 32, event, hash(target) % 1000),
    )


def enqueue(store: Store, comparison_id: int, webhook: str = "ops", target: str = "s2") -> AlertRecord:
    payload = make_payload(target)
    return store.enqueue_alert(comparison_id, webhook, payload, payload["idempotency_key"])


# ------------------------------------------------------------------ payload


def test_message_id_is_deterministic() -> None:
    key = message_id_for("ep", "drift.detected", 7)
    assert key == "msg_" + hashlib.sha256(b"ep|drift.detected|7").hexdigest()[:32]
    assert key == message_id_for("ep", "drift.detected", 7)
    assert key != message_id_for("ep", "drift.repeated", 7)


def test_build_payload_shape() -> None:
    payload = make_payload()
    assert payload == {
        "event": "drift.detected",
        "episode_id": "e" * 32,
        "episode_started_at": T0.isoformat(),
        "dataset": "flights",
        "monitor": "flights-daily",
        "baseline_snapshot": "s1",
        "target_snapshot": "s2",
        "baseline_kind": None,  # not given: unknown
        "baseline_snapshots": ["s1"],  # not given: the one baseline snapshot
        "verdict": {"drifted": True, "severity": "critical", "drifted_columns": 1, "columns_compared": 3},
        "drifted_columns": COLUMNS,
        "changes": None,
        "report_path": "current/s2.html",
        "report_url": None,
        "created_at": T0.isoformat(),
        "idempotency_key": payload["idempotency_key"],
    }
    assert payload["idempotency_key"].startswith("msg_")
    with pytest.raises(ValueError, match="unknown event 'drift.maybe'"):
        build_payload(**{**_payload_args(), "event": "drift.maybe"})


def _payload_args() -> dict[str, Any]:
    return dict(event="drift.detected", episode_id="e", episode_started_at=T0, dataset="d", monitor="m",
                baseline="a", target="b", verdict={}, columns=[], changes=None, report_path=None,
                report_url=None, created_at=T0, message_id="msg_1")


def test_build_payload_is_strict_json() -> None:
    np = pytest.importorskip("numpy")
    payload = build_payload(**{
        **_payload_args(),
        "verdict": {"share": np.float64(0.25), "drifted_columns": np.int64(2)},
        "columns": [{"column": "x", "severity": "warning", "metrics": {"ks": float("nan"), "psi": np.inf}}],
        "created_at": datetime(2030, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
    })
    assert payload["verdict"] == {"share": 0.25, "drifted_columns": 2}
    assert payload["drifted_columns"][0]["metrics"] == {"ks": None, "psi": None}
    assert payload["created_at"] == "2030-01-01T12:00:00+00:00"
    json.dumps(payload, allow_nan=False)


def test_encode_payload_is_compact_and_sorted() -> None:
    assert encode_payload({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'


def test_drifted_columns_worst_first_with_the_deciding_metric() -> None:
    metric = {"name": "psi", "value": 0.4, "decides": True, "severity": "critical", "warning": 0.1,
              "critical": 0.25}
    result = {"columns": [
        {"column": "a", "status": "drift", "severity": "warning",
         "metrics": [{**metric, "value": 0.12, "severity": "warning"}, {**metric, "name": "ks", "decides": False}]},
        {"column": "b", "status": "drift", "severity": "critical", "metrics": [metric]},
        {"column": "c", "status": "ok", "severity": "none", "metrics": [metric]},
    ]}
    assert drifted_columns(result) == [
        {"column": "b", "severity": "critical", "metrics": {"psi": 0.4}, "metric": "psi", "value": 0.4,
         "threshold": 0.25},
        {"column": "a", "severity": "warning", "metrics": {"psi": 0.12}, "metric": "psi", "value": 0.12,
         "threshold": 0.1},
    ]


def test_report_location_is_relative_to_the_reports_dir(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    report = reports / "current" / "a b.html"
    assert report_location(str(report), str(reports), None) == ("current/a b.html", None)
    assert report_location(str(report), str(reports), "https://reports.example.com/drift/") == (
        "current/a b.html", "https://reports.example.com/drift/current/a%20b.html")
    assert report_location(None, str(reports), "https://x") == (None, None)
    assert report_location(str(tmp_path / "elsewhere.html"), str(reports), None) == ("elsewhere.html", None)


def test_slack_message_names_dataset_columns_and_report_link() -> None:
    payload = {**make_payload(), "report_url": "https://reports.example.com/current/s2.html"}
    message = slack_message(payload)
    assert set(message) == {"text", "blocks"}
    assert "flights" in message["text"] and "critical" in message["text"]
    text = json.dumps(message["blocks"])
    assert "dep_delay" in text and "psi 0.31 (threshold 0.25)" in text
    assert "<https://reports.example.com/current/s2.html|Open the drift report>" in text
    assert "Open the drift report" not in json.dumps(slack_message(make_payload())["blocks"])


# ------------------------------------------------------------------ signing


def test_signature_follows_standard_webhooks(store: Store, comparison_id: int) -> None:
    alert = enqueue(store, comparison_id)
    at = datetime.now(timezone.utc)
    body, headers = build_request(alert, WebhookConfig(url="http://x.test/h", secret=SECRET), at)
    assert headers["webhook-id"] == alert.idempotency_key
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))
    signed = f"{alert.idempotency_key}.{int(at.timestamp())}.".encode() + body
    expected = base64.b64encode(hmac.new(b"k" * 32, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"flights", b"fl1ghts"), headers)


def test_headers_configured_headers_cannot_replace_the_webhook_id(store: Store, comparison_id: int) -> None:
    alert = enqueue(store, comparison_id)
    hook = WebhookConfig(url="http://x.test/h", headers={"Webhook-Id": "evil", "User-Agent": "mine"})
    _, headers = build_request(alert, hook, T0)
    assert headers["webhook-id"] == alert.idempotency_key
    assert "Webhook-Id" not in headers
    assert headers["User-Agent"] == "mine"
    assert "webhook-signature" not in headers


def test_backoff_delay_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert backoff_delay(10, base=0.5, cap=60.0) == 60.0
    assert backoff_delay(10_000) == 300.0
    with pytest.raises(ValueError):
        backoff_delay(0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0", 0.0), (format_datetime(T0 + timedelta(seconds=90), usegmt=True), 90.0),
     (format_datetime(T0 - timedelta(seconds=90), usegmt=True), 0.0), ("soon", None), (None, None)],
    ids=["seconds", "zero", "http-date", "past-date", "garbage", "missing"],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, T0) == expected


# ---------------------------------------------------------- one HTTP attempt


@pytest.mark.parametrize(
    ("status", "delivered", "retryable"),
    [(200, True, False), (204, True, False), (500, False, True), (503, False, True), (408, False, True),
     (429, False, True), (400, False, False), (401, False, False), (404, False, False), (410, False, False),
     (301, False, False)],
)
def test_deliver_once_classifies_status(
    serve: Callable[..., Receiver], client: httpx.Client, status: int, delivered: bool, retryable: bool
) -> None:
    receiver = serve([status])
    outcome = deliver_once(client, receiver.url, b"{}", {"Content-Type": "application/json"}, 2.0)
    assert outcome.status_code == status
    assert (outcome.delivered, outcome.retryable, outcome.gone) == (delivered, retryable, status == 410)
    assert (outcome.error is None) == delivered


def test_deliver_once_reads_retry_after(serve: Callable[..., Receiver], client: httpx.Client) -> None:
    receiver = serve([{"status": 429, "headers": {"Retry-After": "7"}}, {"status": 400, "headers": {"Retry-After": "7"}}])
    assert deliver_once(client, receiver.url, b"{}", {}, 2.0).retry_after == 7.0
    assert deliver_once(client, receiver.url, b"{}", {}, 2.0).retry_after is None  # not retried anyway


def test_deliver_once_timeout_is_retryable(serve: Callable[..., Receiver], client: httpx.Client) -> None:
    receiver = serve([(2.0, 200)])
    outcome = deliver_once(client, receiver.url, b"{}", {}, 0.2)
    assert outcome == AttemptOutcome(None, outcome.error, False, True)
    assert outcome.error is not None and "timed out" in outcome.error


def test_deliver_once_connection_refused_is_retryable(client: httpx.Client) -> None:
    outcome = deliver_once(client, f"http://127.0.0.1:{free_port()}/hook", b"{}", {}, 1.0)
    assert (outcome.status_code, outcome.delivered, outcome.retryable) == (None, False, True)
    assert outcome.error and "127.0.0.1" not in outcome.error


# ------------------------------------------------------- one pass over the outbox


def test_request_carries_body_headers_and_a_valid_signature(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    hook = WebhookConfig(url=receiver.url, secret=SECRET, headers={"X-Team": "data"})
    alert = enqueue(store, comparison_id)
    [record] = flush_outbox(store, {"ops": hook}, client=client)
    assert record.status == "delivered"
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.body == encode_payload(alert.payload)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("drift-monitor/")
    assert request.headers["webhook-id"] == alert.idempotency_key
    assert request.headers["x-team"] == "data"
    assert "idempotency-key" not in request.headers and "x-drift-monitor-signature" not in request.headers
    assert Webhook(SECRET).verify(request.body, request.headers)["event"] == "drift.detected"
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60


def test_no_signature_without_a_secret(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    enqueue(store, comparison_id)
    flush_outbox(store, {"ops": WebhookConfig(url=receiver.url)}, client=client)
    headers = receiver.requests[0].headers
    assert "webhook-signature" not in headers and headers["webhook-id"].startswith("msg_")


def test_slack_format_posts_a_slack_message_unsigned(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    alert = enqueue(store, comparison_id)
    flush_outbox(store, {"ops": WebhookConfig(url=receiver.url, format="slack", secret=SECRET)}, client=client)
    [request] = receiver.requests
    assert json.loads(request.body) == slack_message(alert.payload)
    assert not any(name.startswith("webhook-") for name in request.headers)


def test_retries_until_delivered_with_the_same_webhook_id(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([500, 500, 200])
    hooks = {"ops": WebhookConfig(url=receiver.url, timeout=2.0)}
    alert = enqueue(store, comparison_id)
    clock = T0
    for attempt in (1, 2):
        [record] = flush_outbox(store, hooks, client=client, now=lambda: clock)
        assert (record.status, record.attempts) == ("pending", attempt)
        wait = record.next_attempt_at - clock  # backoff with jitter: [0.5, 1) x 1 s, 2 s
        assert timedelta(seconds=0.5 * attempt) <= wait < timedelta(seconds=attempt)
        assert flush_outbox(store, hooks, client=client, now=lambda: clock) == []  # not due yet
        clock = record.next_attempt_at
    [record] = flush_outbox(store, hooks, client=client, now=lambda: clock)
    assert (record.status, record.attempts) == ("delivered", 3)
    attempts = store.list_attempts(record.id)
    assert [(a.attempt, a.status_code, a.delivered) for a in attempts] == [
        (1, 500, False), (2, 500, False), (3, 200, True)]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {alert.idempotency_key}
    assert len({r.body for r in receiver.requests}) == 1


def test_dead_endpoint_stays_pending_and_is_sent_after_a_restart(
    serve: Callable[..., Receiver], store: Store, store_path: Path, comparison_id: int
) -> None:
    port = free_port()
    hooks = {"ops": WebhookConfig(url=f"http://127.0.0.1:{port}/hook", timeout=1.0)}
    alert = enqueue(store, comparison_id)
    [record] = flush_outbox(store, hooks, now=lambda: T0)
    assert (record.status, record.attempts) == ("pending", 1)
    [attempt] = store.list_attempts(record.id)
    assert attempt.status_code is None and attempt.error and not attempt.delivered
    assert flush_outbox(store, hooks, now=lambda: T0) == []  # not due yet

    store.close()  # the process stops; the endpoint comes back; the service restarts

    receiver = serve([], port=port)
    later = T0 + timedelta(hours=1)
    with Store(store_path) as reopened:
        [flushed] = flush_outbox(reopened, hooks, now=lambda: later)
        assert (flushed.id, flushed.status, flushed.attempts) == (record.id, "delivered", 2)
        assert reopened.due_alerts(later + timedelta(days=1)) == []
    assert [r.headers["webhook-id"] for r in receiver.requests] == [alert.idempotency_key]


@pytest.mark.parametrize("status", [400, 404])
def test_client_errors_fail_and_are_not_retried(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int, status: int
) -> None:
    receiver = serve([status])
    hooks = {"ops": WebhookConfig(url=receiver.url, timeout=2.0)}
    enqueue(store, comparison_id)
    [record] = flush_outbox(store, hooks, client=client)
    assert (record.status, record.attempts) == ("failed", 1)
    assert record.last_error and str(status) in record.last_error
    assert flush_outbox(store, hooks, now=lambda: T0 + timedelta(days=1), client=client) == []
    assert len(receiver.requests) == 1


def test_retries_stop_after_give_up_after(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([503, 503, 503])
    hooks = {"ops": WebhookConfig(url=receiver.url, give_up_after="1h")}
    enqueue(store, comparison_id)
    [first] = flush_outbox(store, hooks, client=client, now=lambda: T0 + timedelta(minutes=59, seconds=59.5))
    assert first.status == "pending" and first.next_attempt_at == T0 + timedelta(hours=1)  # clamped to the deadline
    [last] = flush_outbox(store, hooks, client=client, now=lambda: T0 + timedelta(hours=1))
    assert (last.status, last.attempts) == ("failed", 2)
    assert last.last_error and "give_up_after 1h" in last.last_error


def test_timeouts_are_retried_and_leave_the_alert_pending(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([(2.0, 200)])
    enqueue(store, comparison_id)
    [record] = flush_outbox(store, {"ops": WebhookConfig(url=receiver.url, timeout=0.2)}, client=client, now=lambda: T0)
    assert (record.status, record.attempts) == ("pending", 1)
    assert record.next_attempt_at > T0
    [attempt] = store.list_attempts(record.id)
    assert attempt.error is not None and "timed out" in attempt.error
    assert len(receiver.requests) == 1


def test_enqueueing_twice_sends_once(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    hooks = {"ops": WebhookConfig(url=receiver.url)}
    for _ in range(2):
        enqueue(store, comparison_id)
        flush_outbox(store, hooks, client=client)
    assert len(receiver.requests) == 1
    assert len(store.list_alerts(comparison_id)) == 1


def test_each_webhook_gets_its_own_alert(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    ok, missing = serve([200]), serve([404])
    hooks = {"ok": WebhookConfig(url=ok.url), "missing": WebhookConfig(url=missing.url)}
    for name in ("ok", "missing"):
        enqueue(store, comparison_id, name)
    records = flush_outbox(store, hooks, client=client)
    assert sorted((r.webhook, r.status) for r in records) == [("missing", "failed"), ("ok", "delivered")]


def test_alert_for_a_webhook_removed_from_the_config_fails_with_the_reason(
    store: Store, comparison_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    alert = enqueue(store, comparison_id, "gone")
    with caplog.at_level(logging.ERROR, logger="monitor.service.delivery"):
        [failed] = flush_outbox(store, {}, now=lambda: T0 + timedelta(days=1))
    assert "webhook 'gone' is no longer configured" in caplog.text
    assert (failed.id, failed.status, failed.attempts) == (alert.id, "failed", 0)
    assert failed.last_error == "webhook 'gone' is no longer configured"
    assert store.pending_alerts() == []


def test_flush_stops_hammering_a_webhook_that_is_down(store: Store, comparison_id: int) -> None:
    hooks = {"ops": WebhookConfig(url=f"http://127.0.0.1:{free_port()}/hook", timeout=1.0)}
    for target in ("s2", "s3"):
        enqueue(store, comparison_id, target=target)
    [attempted] = flush_outbox(store, hooks, now=lambda: T0 + timedelta(hours=1))
    assert (attempted.status, attempted.attempts) == ("pending", 1)
    pending = store.pending_alerts()
    assert sorted(a.attempts for a in pending) == [0, 1]
    assert {a.next_attempt_at for a in pending} == {attempted.next_attempt_at}  # the other one waits as long


def test_a_delivered_alert_is_not_sent_again(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    hooks = {"ops": WebhookConfig(url=receiver.url)}
    enqueue(store, comparison_id)
    flush_outbox(store, hooks, client=client)
    assert flush_outbox(store, hooks, client=client, now=lambda: T0 + timedelta(days=1)) == []
    assert len(receiver.requests) == 1


def test_an_alert_claimed_elsewhere_is_not_sent(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    alert = enqueue(store, comparison_id)
    assert store.claim_alert(alert.id, T0, T0 + timedelta(minutes=1)) is not None  # another worker is sending it
    assert flush_outbox(store, {"ops": WebhookConfig(url=receiver.url)}, client=client, now=lambda: T0) == []
    assert receiver.requests == []
