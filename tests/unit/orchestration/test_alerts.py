"""Failure alerts: what an alert says, the webhook really receives it (a receiver on loopback), its URL (a
credential) is never logged, and e-mail goes through Airflow's SMTP notifier when recipients are configured.
A real failing DAG run notifying: tests/integration/test_weekly_dag.py."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from support.webhook import webhook_receiver

from laip.config import Settings
from laip.orchestration.alerts import WEBHOOK_ENV, WebhookNotifier, failure_message, failure_notifiers


def _context(error: BaseException | None) -> dict:
    ti = SimpleNamespace(
        dag_id="laip_weekly",
        task_id="validate_raw",
        run_id="scheduled__2014-11-03T00:00:00+00:00",
        try_number=1,
        log_url="http://127.0.0.1:8080/dags/laip_weekly/runs/x/tasks/validate_raw?try_number=1",
    )
    return {"ti": ti, "exception": error, "logical_date": datetime(2014, 11, 3, 3, tzinfo=UTC)}


def test_an_alert_names_dag_run_date_task_and_the_errors_first_line() -> None:
    error = ValueError("raw data in /x is invalid (2 problems, report: r.json):\nstudentInfo.csv line 7: ...")
    message = failure_message(_context(error))
    assert message["text"] == (
        "LAIP: task validate_raw of laip_weekly failed (run scheduled__2014-11-03T00:00:00+00:00, data as of "
        "2014-11-03): ValueError: raw data in /x is invalid (2 problems, report: r.json)"
    )
    assert message["error"] == "raw data in /x is invalid (2 problems, report: r.json)"  # not the rows below it
    assert message["as_of_date"] == "2014-11-03" and message["try_number"] == 1
    assert message["log_url"].endswith("/tasks/validate_raw?try_number=1")
    assert failure_message(_context(None))["error"] is None


def test_the_webhook_receives_the_alert_and_its_url_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with webhook_receiver("/hooks/T000/B000/secret-token") as receiver:
        WebhookNotifier(receiver.url).notify(_context(RuntimeError("no export as of 2014-11-03")))
        (body,) = receiver.wait_for(1)
    assert receiver.paths == ["/hooks/T000/B000/secret-token"]
    assert body["task_id"] == "validate_raw" and body["error"] == "no export as of 2014-11-03"
    assert "alert sent" in caplog.text and "secret-token" not in caplog.text


def test_an_unreachable_webhook_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with webhook_receiver() as receiver:
        url = receiver.url
    WebhookNotifier(url).notify(_context(RuntimeError("boom")))  # the receiver is gone
    assert "not delivered" in caplog.text and "secret-token" not in caplog.text


def test_channels_come_from_the_environment_and_laip_yaml(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    monkeypatch.delenv("LAIP_ALERT_EMAIL", raising=False)
    assert failure_notifiers(settings) == []  # none configured: failures show in the UI only
    monkeypatch.setenv(WEBHOOK_ENV, "https://hooks.example.org/services/abc")
    monkeypatch.setenv("LAIP_ALERT_EMAIL", "ops@example.org, tutor-lead@example.org")
    webhook, email = failure_notifiers(settings)
    assert isinstance(webhook, WebhookNotifier)
    assert type(email).__name__ == "SmtpNotifier" and email.to == ["ops@example.org", "tutor-lead@example.org"]
    monkeypatch.setenv(WEBHOOK_ENV, "file:///etc/passwd")
    with pytest.raises(ValueError, match="must be an http"):
        failure_notifiers(settings)
