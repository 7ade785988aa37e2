"""Webhook payloads, signing and delivery against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Receiver, free_port

from monitor.service.alert import (
    SIGNATURE_HEADER,
    AttemptOutcome,
    backoff_delay,
    build_headers,
    build_payload,
    deliver_alert,
    deliver_once,
    encode_payload,
    enqueue_and_deliver,
    flush_outbox,
    idempotency_key_for,
    sign,
)
from monitor.config import WebhookConfig
from monitor.store import Store

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
NO_SLEEP: Callable[[float], None] = lambda seconds: None  # noqa: E731


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
    opened = Store(store_path)
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
        monitor="flights-daily",
        dataset="flights",
        baseline=snapshots[0],
        target=snapshots[1],
        drifted=True,
        severity="critical",
        result={},
        report_path=None,
    )
    return comparison.id


def make_payload(target: str = "s2") -> dict[str, Any]:
    return build_payload(
        dataset="flights",
        monitor="flights-daily",
        baseline="s1",
        target=target,
        verdict={"drifted": True, "severity": "critical", "drifted_columns": 1, "share": 0.5},
        drifted_columns=[{"column": "dep_delay", "severity": "critical", "metrics": {"psi": 0.31}}],
        report_path="reports/flights-daily/s2.html",
        created_at=T0,
    )


# ------------------------------------------------------------------ payload


def test_idempotency_key_is_deterministic() -> None:
    key = idempotency_key_for("m", "base", "target")
    assert key == hashlib.sha256(b"m|base|target").hexdigest()[:32]
    assert key == idempotency_key_for("m", "base", "target")
    assert key != idempotency_key_for("m", "base", "other")


def test_build_payload_shape() -> None:
    payload = make_payload()
    assert payload == {
        "event": "drift.detected",
        "dataset": "flights",
        "monitor": "flights-daily",
        "baseline_snapshot": "s1",
        "target_snapshot": "s2",
        "verdict": {"drifted": True, "severity": "critical", "drifted_columns": 1, "share": 0.5},
        "drifted_columns": [{"column": "dep_delay", "severity": "critical", "metrics": {"psi": 0.31}}],
        "report_path": "reports/flights-daily/s2.html",
        "created_at": "2030-05-01T12:00:00+00:00",
        "idempotency_key": idempotency_key_for("flights-daily", "s1", "s2"),
    }
    assert make_payload() == payload


def test_build_payload_is_strict_json() -> None:
    np = pytest.importorskip("numpy")
    payload = build_payload(
        dataset="d",
        monitor="m",
        baseline="a",
        target="b",
        verdict={"share": np.float64(0.25), "drifted_columns": np.int64(2)},
        drifted_columns=[{"column": "x", "severity": "warning", "metrics": {"ks": float("nan"), "psi": np.inf}}],
        report_path=None,
        created_at=datetime(2030, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))),
    )
    assert payload["verdict"] == {"share": 0.25, "drifted_columns": 2}
    assert payload["drifted_columns"][0]["metrics"] == {"ks": None, "psi": None}
    assert payload["created_at"] == "2030-01-01T12:00:00+00:00"
    json.dumps(payload, allow_nan=False)


def test_encode_payload_is_compact_and_sorted() -> None:
    assert encode_payload({"b": 1, "a": [1, 2]}) == b'{"a":[1,2],"b":1}'


# ------------------------------------------------------------------ signing


def test_sign_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign(body, "s3cret", 1700000000) == f"t=1700000000,v1={expected}"


def test_headers_configured_headers_cannot_replace_the_idempotency_key() -> None:
    hook = WebhookConfig(url="http://x.test/h", headers={"idempotency-key": "evil", "User-Agent": "mine"})
    headers = build_headers(b"{}", "k1", hook, 1)
    assert headers["Idempotency-Key"] == "k1"
    assert "idempotency-key" not in headers
    assert headers["User-Agent"] == "mine"
    assert SIGNATURE_HEADER not in headers


def test_backoff_delay_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert backoff_delay(10, base=0.5, cap=60.0) == 60.0
    assert backoff_delay(10_000) == 300.0
    with pytest.raises(ValueError):
        backoff_delay(0)


# ---------------------------------------------------------- one HTTP attempt


@pytest.mark.parametrize(
    ("status", "delivered", "retryable"),
    [
        (200, True, False),
        (204, True, False),
        (500, False, True),
        (503, False, True),
        (408, False, True),
        (429, False, True),
        (400, False, False),
        (401, False, False),
        (404, False, False),
        (301, False, False),
    ],
)
def test_deliver_once_classifies_status(
    serve: Callable[..., Receiver], client: httpx.Client, status: int, delivered: bool, retryable: bool
) -> None:
    receiver = serve([status])
    outcome = deliver_once(client, receiver.url, b"{}", {"Content-Type": "application/json"}, 2.0)
    assert outcome.status_code == status
    assert (outcome.delivered, outcome.retryable) == (delivered, retryable)
    assert (outcome.error is None) == delivered


def test_deliver_once_timeout_is_retryable(serve: Callable[..., Receiver], client: httpx.Client) -> None:
    receiver = serve([(2.0, 200)])
    started = time.monotonic()
    outcome = deliver_once(client, receiver.url, b"{}", {}, 0.2)
    assert time.monotonic() - started < 1.5
    assert outcome == AttemptOutcome(None, outcome.error, False, True)
    assert outcome.error is not None and "timed out" in outcome.error


def test_deliver_once_connection_refused_is_retryable(client: httpx.Client) -> None:
    outcome = deliver_once(client, f"http://127.0.0.1:{free_port()}/hook", b"{}", {}, 1.0)
    assert (outcome.status_code, outcome.delivered, outcome.retryable) == (None, False, True)
    assert outcome.error


# ------------------------------------------------------- delivery via outbox


def test_request_carries_body_headers_and_a_valid_signature(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    hook = WebhookConfig(url=receiver.url, secret="s3cret", headers={"X-Team": "data"})
    payload = make_payload()
    [record] = enqueue_and_deliver(store, comparison_id, payload, ["ops"], {"ops": hook}, client=client, sleep=NO_SLEEP)
    assert record.status == "delivered"
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.body == encode_payload(payload)
    assert json.loads(request.body) == payload
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("drift-monitor/")
    assert request.headers["idempotency-key"] == payload["idempotency_key"]
    assert request.headers["x-team"] == "data"
    fields = dict(part.split("=", 1) for part in request.headers[SIGNATURE_HEADER.lower()].split(","))
    expected = hmac.new(b"s3cret", fields["t"].encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert abs(int(fields["t"]) - time.time()) < 60


def test_no_signature_without_a_secret(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    hooks = {"ops": WebhookConfig(url=receiver.url)}
    enqueue_and_deliver(store, comparison_id, make_payload(), ["ops"], hooks, client=client, sleep=NO_SLEEP)
    assert SIGNATURE_HEADER.lower() not in receiver.requests[0].headers


def test_retries_until_delivered_with_the_same_idempotency_key(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([500, 500, 200])
    hooks = {"ops": WebhookConfig(url=receiver.url, max_attempts=5, timeout=2.0)}
    sleeps: list[tuple[float, datetime]] = []

    def sleep(seconds: float) -> None:  # while waiting, the outbox holds the retry time
        sleeps.append((seconds, store.pending_alerts()[0].next_attempt_at))

    payload = make_payload()
    [record] = enqueue_and_deliver(
        store, comparison_id, payload, ["ops"], hooks, client=client, sleep=sleep, now=lambda: T0
    )
    assert (record.status, record.attempts) == ("delivered", 3)
    assert sleeps == [(1.0, T0 + timedelta(seconds=3)), (2.0, T0 + timedelta(seconds=4))]
    attempts = store.list_attempts(record.id)
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert [a.status_code for a in attempts] == [500, 500, 200]
    assert [bool(a.delivered) for a in attempts] == [False, False, True]
    keys = {r.headers["idempotency-key"] for r in receiver.requests}
    assert keys == {payload["idempotency_key"]}
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1


def test_dead_endpoint_stays_pending_and_is_sent_after_a_restart(
    serve: Callable[..., Receiver], store: Store, store_path: Path, comparison_id: int
) -> None:
    port = free_port()
    hooks = {"ops": WebhookConfig(url=f"http://127.0.0.1:{port}/hook", max_attempts=3, timeout=1.0)}
    now = lambda: T0  # noqa: E731
    payload = make_payload()
    [record] = enqueue_and_deliver(store, comparison_id, payload, ["ops"], hooks, sleep=NO_SLEEP, now=now)
    assert (record.status, record.attempts) == ("pending", 3)
    assert record.next_attempt_at == T0 + timedelta(seconds=backoff_delay(3))
    attempts = store.list_attempts(record.id)
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert all(a.status_code is None and a.error and not a.delivered for a in attempts)
    assert flush_outbox(store, hooks, now=now, sleep=NO_SLEEP) == []  # not due yet

    store.close()  # the process stops; the endpoint comes back; the service restarts

    receiver = serve([], port=port)
    later = T0 + timedelta(hours=1)
    with Store(store_path) as reopened:
        [flushed] = flush_outbox(reopened, hooks, now=lambda: later, sleep=NO_SLEEP)
        assert (flushed.id, flushed.status, flushed.attempts) == (record.id, "delivered", 4)
        assert reopened.due_alerts(later + timedelta(days=1)) == []
    assert [r.headers["idempotency-key"] for r in receiver.requests] == [payload["idempotency_key"]]


def test_not_found_fails_and_is_not_retried(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([404])
    hooks = {"ops": WebhookConfig(url=receiver.url, max_attempts=5, timeout=2.0)}
    sleeps: list[float] = []
    [record] = enqueue_and_deliver(
        store, comparison_id, make_payload(), ["ops"], hooks, client=client, sleep=sleeps.append
    )
    assert (record.status, record.attempts, sleeps) == ("failed", 1, [])
    assert record.last_error and "404" in record.last_error
    assert flush_outbox(store, hooks, now=lambda: T0 + timedelta(days=1), client=client, sleep=NO_SLEEP) == []
    assert len(receiver.requests) == 1


def test_timeouts_are_retried_and_leave_the_alert_pending(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([(2.0, 200), (2.0, 200)])
    hooks = {"ops": WebhookConfig(url=receiver.url, max_attempts=2, timeout=0.2)}
    started = time.monotonic()
    [record] = enqueue_and_deliver(
        store, comparison_id, make_payload(), ["ops"], hooks, client=client, sleep=NO_SLEEP, now=lambda: T0
    )
    assert time.monotonic() - started < 2.0
    assert (record.status, record.attempts) == ("pending", 2)
    assert record.next_attempt_at > T0
    errors = [a.error for a in store.list_attempts(record.id)]
    assert len(errors) == 2 and all(e is not None and "timed out" in e for e in errors)
    assert len(receiver.requests) == 2


def test_enqueue_and_deliver_twice_sends_once(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    hooks = {"ops": WebhookConfig(url=receiver.url)}
    for _ in range(2):
        [record] = enqueue_and_deliver(
            store, comparison_id, make_payload(), ["ops", "ops"], hooks, client=client, sleep=NO_SLEEP
        )
        assert record.status == "delivered"
    assert len(receiver.requests) == 1
    assert len(store.list_alerts(comparison_id)) == 1


def test_each_webhook_gets_its_own_alert(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    ok, missing = serve([200]), serve([404])
    hooks = {"ok": WebhookConfig(url=ok.url), "missing": WebhookConfig(url=missing.url)}
    records = enqueue_and_deliver(
        store, comparison_id, make_payload(), ["ok", "missing", "unknown"], hooks, client=client, sleep=NO_SLEEP
    )
    assert [(r.webhook, r.status) for r in records] == [("ok", "delivered"), ("missing", "failed")]


def test_alert_for_an_unconfigured_webhook_is_left_pending(
    store: Store, comparison_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    payload = make_payload()
    alert = store.enqueue_alert(comparison_id, "gone", "http://127.0.0.1:9/hook", payload, payload["idempotency_key"])
    with caplog.at_level(logging.WARNING, logger="monitor.service.alert"):
        assert flush_outbox(store, {}, now=lambda: T0 + timedelta(days=1), sleep=NO_SLEEP) == []
    assert "not configured" in caplog.text
    [pending] = store.pending_alerts()
    assert (pending.id, pending.status, pending.attempts) == (alert.id, "pending", 0)


def test_flush_stops_hammering_a_webhook_that_is_down(store: Store, comparison_id: int) -> None:
    port = free_port()
    hooks = {"ops": WebhookConfig(url=f"http://127.0.0.1:{port}/hook", max_attempts=2, timeout=1.0)}
    for target in ("s2", "s3"):
        payload = make_payload(target)
        store.enqueue_alert(comparison_id, "ops", hooks["ops"].url, payload, payload["idempotency_key"])
    [attempted] = flush_outbox(store, hooks, now=lambda: T0 + timedelta(days=1), sleep=NO_SLEEP)
    assert (attempted.status, attempted.attempts) == ("pending", 2)
    assert sorted(a.attempts for a in store.pending_alerts()) == [0, 2]


def test_deliver_alert_does_not_resend_a_delivered_alert(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200])
    hook = WebhookConfig(url=receiver.url)
    [record] = enqueue_and_deliver(store, comparison_id, make_payload(), ["ops"], {"ops": hook}, client=client)
    assert deliver_alert(store, record, hook, client=client, sleep=NO_SLEEP) == record
    assert len(receiver.requests) == 1


def test_alert_delivered_elsewhere_meanwhile_is_not_recorded_twice(
    serve: Callable[..., Receiver], client: httpx.Client, store: Store, comparison_id: int
) -> None:
    receiver = serve([200, 200])
    hook = WebhookConfig(url=receiver.url)
    payload = make_payload()
    stale = store.enqueue_alert(comparison_id, "ops", receiver.url, payload, payload["idempotency_key"])
    deliver_alert(store, stale, hook, client=client, sleep=NO_SLEEP)
    record = deliver_alert(store, stale, hook, client=client, sleep=NO_SLEEP)
    assert (record.status, record.attempts) == ("delivered", 1)
    assert len(store.list_attempts(record.id)) == 1
    assert len(receiver.requests) == 2
