"""Failure alerts of the DAGs: every task that finally fails (after its retries) notifies ops.

Two channels, each on when configured, both through Airflow's notifier interface (``on_failure_callback``):

* a webhook (Slack, Teams, Mattermost or any receiver of a JSON POST): env ``LAIP_ALERT_WEBHOOK_URL``. Only in the
  environment: such a URL is a credential, so it is never in ``laip.yaml``, the repository or a log line;
* e-mail through Airflow's own SMTP settings (the ``smtp_default`` connection, e.g. ``AIRFLOW_CONN_SMTP_DEFAULT``):
  recipients in ``laip.yaml`` ``alerts.email`` or env ``LAIP_ALERT_EMAIL`` (comma-separated).

An alert names the DAG, the run, its date, the task, the try and the first line of the error (which names file,
column and row, never a student's values), and links the task's log in the Airflow UI. A failing receiver is logged
and never fails the task a second time.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from airflow.sdk import BaseNotifier

from laip.config import Settings
from laip.orchestration.live_term import run_date

log = logging.getLogger(__name__)

WEBHOOK_ENV = "LAIP_ALERT_WEBHOOK_URL"
EMAIL_ENV = "LAIP_ALERT_EMAIL"
TIMEOUT_SECONDS = 10
MAX_ERROR_CHARS = 300


def failure_message(context: Mapping[str, Any]) -> dict[str, Any]:
    """What an alert says about the failed task instance in ``context`` (JSON-able)."""
    ti = context.get("ti") or context.get("task_instance")
    error = context.get("exception")
    first_line = (
        str(error).strip().splitlines()[0].rstrip(":")[:MAX_ERROR_CHARS] if error and str(error).strip() else None
    )
    dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None)
    task_id, run_id = getattr(ti, "task_id", None), getattr(ti, "run_id", None) or context.get("run_id")
    day = run_date(context)
    date = day.isoformat() if day else None
    text = f"LAIP: task {task_id} of {dag_id} failed (run {run_id}" + (f", data as of {date}" if date else "") + ")"
    if first_line:
        text += f": {type(error).__name__}: {first_line}"
    return {
        "text": text,
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "as_of_date": date,
        "try_number": getattr(ti, "try_number", None),
        "error": first_line,
        "log_url": getattr(ti, "log_url", None),
    }


class WebhookNotifier(BaseNotifier):
    """POST the failure as JSON (``text`` for chat tools, plus the fields of :func:`failure_message`)."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url

    def notify(self, context: Any) -> None:
        body = json.dumps(failure_message(context)).encode()
        req = urllib.request.Request(self.url, data=body, method="POST", headers={"Content-Type": "application/json"})
        host = urllib.parse.urlsplit(self.url).hostname  # the URL's path and query can hold its secret token
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_SECONDS) as resp:
                log.info("failure alert sent to the webhook at %s (HTTP %s)", host, resp.status)
        except OSError as exc:
            log.error("failure alert to the webhook at %s not delivered: %s", host, type(exc).__name__)


def email_recipients(settings: Settings) -> list[str]:
    configured = os.environ.get(EMAIL_ENV) or settings.raw.get("alerts", {}).get("email") or []
    items = configured.split(",") if isinstance(configured, str) else configured
    return [str(a).strip() for a in items if str(a).strip()]


def failure_notifiers(settings: Settings) -> list[BaseNotifier]:
    """The configured alert channels (none configured: an empty list, and failures only show in the UI)."""
    notifiers: list[BaseNotifier] = []
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if url:
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{WEBHOOK_ENV} must be an http(s) URL")
        notifiers.append(WebhookNotifier(url))
    recipients = email_recipients(settings)
    if recipients:
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        notifiers.append(
            SmtpNotifier(
                to=recipients,
                subject="LAIP: task {{ ti.task_id }} of {{ dag.dag_id }} failed (run {{ run_id }})",
            )
        )
    return notifiers
