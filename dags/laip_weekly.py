"""
### LAIP weekly: a live term, each week's risk list from the data known that day

`prepare_export → validate_raw → load_raw → dbt → certify_build → monitor → retrain_or_keep →
(train_model | keep_champion) → score → insight_cards → publish`, the steps of `laip_pipeline` on the
**export as of the run's logical date D**:

* **prepare_export** takes the seven files the university dropped into `<exports>/D/` (`laip.yaml`
  `paths.exports_dir`, env `LAIP_EXPORTS_DIR`); in demo mode (param `replay_from`, env `LAIP_REPLAY_FROM`) it
  replays the export as of D from a finished history such as OULAD. No export for D: the run fails here.
* **validate_raw / load_raw** accept a running presentation's empty `final_result` (and only then) and reject any
  event dated after D. Presentations still running are scored at each checkpoint they have reached; labels (and so
  training) come only from presentations that have ended.
* Re-running D replaces exactly D's rows of `ml_withdrawal_risk_history`; `ml_withdrawal_risk_current` is the
  newest date's view, with the band of the export before it.

Schedule: Mondays 00:00 UTC (`laip.yaml` `live_term.schedule`, env `LAIP_WEEKLY_SCHEDULE`); paused when first
created: unpause it when the term starts. Backfill a term from the UI (Trigger → Backfill), with
`airflow backfill create --dag-id laip_weekly --from-date 2014-10-06 --to-date 2015-01-26 --max-active-runs 1`,
or `POST /api/v2/backfills`. **Keep max active runs at 1**: runs of different dates must not overlap (a
step that finds another date's export loaded stops the run instead of publishing mixed data).
A task that fails notifies the configured alert channels (`laip.yaml` `alerts:`, env `LAIP_ALERT_WEBHOOK_URL`).
Risk signals are descriptive and ML risk bands are model outputs: neither is causal.

(This Airflow DAG file only calls `laip.orchestration.pipeline_dag.build_dag`.)
"""

from __future__ import annotations

from laip.orchestration.dag_config import WEEKLY_DAG_ID
from laip.orchestration.pipeline_dag import build_dag

dag = build_dag(WEEKLY_DAG_ID, __doc__ or "", live=True)
