"""The store's drift episodes, outbox claims and webhook states, and the
migration that removes webhook URLs from an existing store; real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlite_utils import Database

from monitor.errors import StoreError
from monitor.store import SCHEMA_VERSION, EpisodeRecord, EpisodeStep, Store
from monitor.store.schema import MIGRATIONS

T0 = datetime(2030, 5, 1, 12, 0, tzinfo=timezone.utc)
TOKEN = "tok-3f9a1c77e2b84d1b"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "monitor.db", clock=lambda: T0) as opened:
        yield opened


def comparison(store: Store) -> int:
    store.register_dataset("flights", {"path": "f.csv"})
    snaps = []
    for name in ("s1", f"s{len(store.list_snapshots('flights')) + 2}"):
        snap = store.begin_snapshot("flights", name)
        store.complete_snapshot(snap.id, profile={"format_version": 1}, columns=[], row_count=0, fingerprint=name)
        snaps.append(snap)
    return store.record_comparison(monitor="daily", dataset="flights", baseline=snaps[0], target=snaps[1],
                                   drifted=True, severity="warning", result={}, report_path=None).id


def test_a_step_opens_continues_and_resolves_one_episode(store: Store) -> None:
    cid = comparison(store)
    seen: list[EpisodeRecord | None] = []

    def plan(status: str | None, event: str | None, severity: str = "warning"):  # type: ignore[no-untyped-def]
        def decide(current: EpisodeRecord | None) -> EpisodeStep:
            seen.append(current)
            alerts = (("ops", {"event": event}, f"msg_{len(seen)}"),)
            return EpisodeStep(status, "k1", severity, ["a"], event, alerts)  # type: ignore[arg-type]
        return decide

    opened, [alert] = store.step_episode("daily", "flights", cid, plan("open", "drift.detected"))
    assert opened is not None and (opened.key, opened.status, opened.runs) == ("k1", "open", 1)
    assert (opened.notified_at, opened.notified_severity, opened.notified_columns) == (T0, "warning", ["a"])
    assert (alert.episode_id, alert.event, alert.webhook) == (opened.id, "drift.detected", "ops")

    same, queued = store.step_episode("daily", "flights", cid, plan("open", None, "critical"))
    assert queued == [] and same is not None
    assert (same.id, same.runs, same.severity, same.notified_severity) == (opened.id, 2, "critical", "warning")
    assert seen[1] == opened

    closed, [resolved] = store.step_episode("daily", "flights", cid, plan("resolved", "drift.resolved", "none"))
    assert closed is not None and (closed.id, closed.status, closed.resolved_at) == (opened.id, "resolved", T0)
    assert resolved.episode_id == opened.id
    assert store.open_episode("daily") is None
    assert [e.status for e in store.list_episodes("daily")] == ["resolved"]


def test_a_monitor_has_at_most_one_open_episode(store: Store) -> None:
    cid = comparison(store)
    store.step_episode("daily", "flights", cid, lambda cur: EpisodeStep("open", "k1", "warning", []))
    with pytest.raises(StoreError):  # the unique index refuses a second open episode
        with store._transaction("insert", write=True):
            store._insert("episodes", {"key": "k2", "monitor": "daily", "dataset": "flights", "status": "open",
                                       "opened_at": "x", "severity": "warning", "columns": "[]"})
    assert len(store.list_episodes()) == 1


def test_resolving_without_an_open_episode_is_refused(store: Store) -> None:
    cid = comparison(store)
    with pytest.raises(StoreError, match="has no open episode"):
        store.step_episode("daily", "flights", cid, lambda cur: EpisodeStep("resolved", "k", "none", []))


def test_a_claimed_alert_is_not_due_until_its_lease_ends(store: Store) -> None:
    alert = store.enqueue_alert(comparison(store), "ops", {}, "msg_1")
    lease = T0 + timedelta(seconds=45)
    claimed = store.claim_alert(alert.id, T0, lease)
    assert claimed is not None and claimed.next_attempt_at == lease
    assert store.claim_alert(alert.id, T0, lease) is None  # a second worker gets nothing
    assert store.due_alerts(T0) == []
    assert store.next_due_at() == lease
    assert store.claim_alert(alert.id, lease, lease + timedelta(seconds=45)) is not None


def test_failing_and_postponing_the_alerts_of_one_webhook(store: Store) -> None:
    cid = comparison(store)
    a, b, c = (store.enqueue_alert(cid, hook, {}, key) for hook, key in
               [("ops", "m1"), ("ops", "m2"), ("pager", "m3")])
    assert store.postpone_alerts("ops", T0 + timedelta(minutes=1)) == 2
    assert [x.id for x in store.due_alerts(T0)] == [c.id]
    assert store.next_due_at(skip_webhooks={"pager"}) == T0 + timedelta(minutes=1)
    failed = store.fail_pending_alerts("ops", "webhook 'ops' is no longer configured")
    assert [(x.id, x.status, x.last_error) for x in failed] == [
        (a.id, "failed", "webhook 'ops' is no longer configured"),
        (b.id, "failed", "webhook 'ops' is no longer configured")]
    assert [x.id for x in store.pending_alerts()] == [c.id]


def test_webhook_states_are_kept_until_enabled(store: Store, tmp_path: Path) -> None:
    store.disable_webhook("ops", "HTTP 410 Gone for alert 1", "salt$digest")
    with Store(tmp_path / "monitor.db") as reopened:
        [state] = reopened.webhook_states().values()
    assert (state.webhook, state.reason, state.config_digest) == ("ops", "HTTP 410 Gone for alert 1", "salt$digest")
    assert store.enable_webhook("ops") and not store.enable_webhook("ops")
    assert store.webhook_states() == {}


def test_migration_removes_webhook_urls_from_an_existing_store(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"https://hooks.example.com/services/{TOKEN}"
    conn = sqlite3.connect(path, isolation_level=None)
    db = Database(conn)
    db.execute("CREATE TABLE migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    MIGRATIONS[0](db)
    db.table("migrations").insert({"version": 1, "name": "initial", "applied_at": "2024-01-01T00:00:00+00:00"})
    conn.execute("INSERT INTO datasets VALUES (1, 'd', 1, '{}', '', '2024-01-01T00:00:00.000000+00:00')")
    for i in (1, 2):
        conn.execute("INSERT INTO snapshots (id, dataset, dataset_version, name, created_at, status) "
                     f"VALUES ({i}, 'd', 1, 's{i}', '2024-01-01T00:00:00.000000+00:00', 'completed')")
    conn.execute("INSERT INTO comparisons VALUES (1, 'm', 'd', 1, 2, 's1', 's2', "
                 "'2024-01-01T00:00:00.000000+00:00', 1, 'warning', '{}', NULL)")
    for i in range(50):
        conn.execute("INSERT INTO alerts (comparison_id, webhook, url, payload, idempotency_key, status, "
                     "next_attempt_at, created_at, last_error) VALUES (1, 'ops', ?, '{}', ?, 'pending', "
                     "'2024-01-01T00:00:00.000000+00:00', '2024-01-01T00:00:00.000000+00:00', ?)",
                     [url, f"k{i}", f"ConnectError for {url}"])
    conn.close()
    assert TOKEN.encode() in path.read_bytes()

    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        alerts = store.pending_alerts()
        assert len(alerts) == 50 and all(a.webhook == "ops" and a.episode_id is None for a in alerts)
        assert all(a.last_error and "://" not in a.last_error for a in alerts)
        columns = {row[1] for row in store._conn.execute("PRAGMA table_info(alerts)")}
    assert "url" not in columns
    for file in tmp_path.iterdir():
        assert TOKEN.encode() not in file.read_bytes(), file.name
