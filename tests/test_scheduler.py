"""Triggers in a monitor's time zone, the catch-up, and applying a re-read configuration."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import MonitorConfig, load_config, parse_config
from monitor.errors import ConfigError
from monitor.service.scheduler import Runtime, apply_config, build_scheduler, is_due, job_id, trigger_for

UTC = timezone.utc


def monitor(**schedule: Any) -> MonitorConfig:
    return MonitorConfig.model_validate({"dataset": "d", "schedule": schedule})


@pytest.mark.parametrize(
    ("after", "fires"),
    [
        # 06:00 in New York is 11:00 UTC in winter (EST, UTC-5) and 10:00 UTC in summer (EDT, UTC-4)
        (datetime(2024, 1, 10, 0, 0, tzinfo=UTC), datetime(2024, 1, 10, 11, 0, tzinfo=UTC)),
        (datetime(2024, 7, 10, 0, 0, tzinfo=UTC), datetime(2024, 7, 10, 10, 0, tzinfo=UTC)),
        # the day daylight saving time starts (10 March 2024, 02:00 local)
        (datetime(2024, 3, 10, 0, 0, tzinfo=UTC), datetime(2024, 3, 10, 10, 0, tzinfo=UTC)),
    ],
    ids=["winter", "summer", "dst-start"],
)
def test_cron_fires_at_the_time_of_its_timezone(after: datetime, fires: datetime) -> None:
    trigger = trigger_for(monitor(cron="0 6 * * *", timezone="America/New_York"))
    assert trigger.get_next_fire_time(None, after) == fires


def test_cron_without_timezone_is_utc() -> None:
    trigger = trigger_for(monitor(cron="0 6 * * *"))
    assert trigger.get_next_fire_time(None, datetime(2024, 7, 10, tzinfo=UTC)) == datetime(2024, 7, 10, 6, tzinfo=UTC)


@pytest.mark.parametrize(("field", "days"), [
    ("1", {1}), ("0", {0}), ("7", {0}), ("1-5", {1, 2, 3, 4, 5}), ("0,6", {0, 6}), ("*/2", {0, 2, 4, 6}),
    ("1-5/2", {1, 3, 5}), ("5-7", {5, 6, 0}), ("mon", {1}), ("mon-fri", {1, 2, 3, 4, 5}), ("*", set(range(7))),
])
def test_cron_weekdays_mean_what_crontab_says(field: str, days: set[int]) -> None:
    """crontab(5) counts weekdays from Sunday = 0 (and 7); each fire lands on those days of the calendar."""
    trigger = trigger_for(monitor(cron=f"0 6 * * {field}"))
    fired, at = [], datetime(2024, 7, 1, tzinfo=UTC)  # a Monday
    while (at := trigger.get_next_fire_time(None, at)) < datetime(2024, 7, 29, tzinfo=UTC):
        fired.append(at)
        at = at.replace(minute=1)
    assert {d.isoweekday() % 7 for d in fired} == days
    assert len(fired) == 4 * len(days) and all(d.hour == 6 for d in fired)


@pytest.mark.parametrize("field", ["8", "3-1", "*/0"])
def test_a_weekday_out_of_range_is_a_config_error(field: str) -> None:
    with pytest.raises(ValueError, match="day of week|invalid cron"):
        monitor(cron=f"0 6 * * {field}")


def test_catch_up_follows_the_timezone() -> None:
    mon = monitor(cron="0 6 * * *", timezone="America/New_York")
    last = datetime(2024, 7, 9, 10, 0, tzinfo=UTC)  # 06:00 New York, 9 July
    assert not is_due(mon, last, datetime(2024, 7, 10, 9, 59, tzinfo=UTC))
    assert is_due(mon, last, datetime(2024, 7, 10, 10, 0, tzinfo=UTC))
    # in UTC the same line would have been due at 06:00 UTC
    assert is_due(monitor(cron="0 6 * * *"), last, datetime(2024, 7, 10, 6, 0, tzinfo=UTC))


def test_an_unknown_timezone_is_a_config_error_with_its_key_path() -> None:
    data = {"datasets": {"d": {"path": "x.csv"}},
            "monitors": {"m": {"dataset": "d", "schedule": {"cron": "0 6 * * *", "timezone": "America/Springfield"}}}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.problems == [
        "monitors.m.schedule.timezone: unknown time zone 'America/Springfield' "
        "(expected an IANA name such as America/New_York)"
    ]


@pytest.mark.parametrize("address", ["9100", "localhost", ":9100", "127.0.0.1:99999", "127.0.0.1:http"])
def test_a_bad_http_address_is_a_config_error(address: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"service": {"http": address}})
    assert caught.value.problems == [f"service.http: expected HOST:PORT such as 127.0.0.1:9100, got {address!r}"]


def write(path: Path, monitors: dict[str, Any], store: str = "monitor.db") -> Path:
    path.write_text(yaml.safe_dump({"store": store, "datasets": {"d": {"path": "d.csv"}}, "monitors": monitors}))
    return path


def test_apply_config_adds_removes_and_reschedules_jobs(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", {
        "kept": {"dataset": "d", "schedule": {"every": "1h"}},
        "moved": {"dataset": "d", "schedule": {"every": "1h"}},
        "gone": {"dataset": "d", "schedule": {"every": "1h"}},
    })
    runtime = Runtime(load_config(path))
    now = datetime.now(UTC)
    scheduler = build_scheduler(runtime.config, now=now, runtime=runtime)
    write(path, {
        "kept": {"dataset": "d", "schedule": {"every": "1h"}, "min_values": 10},
        "moved": {"dataset": "d", "schedule": {"cron": "0 6 * * *", "timezone": "Asia/Tokyo"}},
        "new": {"dataset": "d", "schedule": {"every": "10m"}},
    }, store="elsewhere.db")
    changes = apply_config(scheduler, runtime, load_config(path), now=now)
    assert changes == [
        f"store changed to {tmp_path / 'elsewhere.db'}: takes effect on restart; still using {tmp_path / 'monitor.db'}",
        "monitor gone removed",
        "monitor new added (every 10m)",
        "monitor kept changed: min_values (from its next run)",
        "monitor moved rescheduled: every 1h -> cron '0 6 * * *' (Asia/Tokyo)",
    ]
    assert sorted(j.id for j in scheduler.get_jobs()) == ["monitor:kept", "monitor:moved", "monitor:new"]
    assert str(scheduler.get_job(job_id("moved")).trigger.timezone) == "Asia/Tokyo"
    assert runtime.config.monitors["kept"].min_values == 10
    assert runtime.config.store == str(tmp_path / "monitor.db")
