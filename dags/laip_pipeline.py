"""
### LAIP pipeline: OULAD raw files to dashboards and risk scores (the full history, run on demand)

`validate_raw → load_raw → dbt (Cosmos task group) → certify_build → monitor → retrain_or_keep →
(train_model | keep_champion) → score → insight_cards → publish`

* **validate_raw** checks the 7 OULAD files (presence, headers, types, keys, domains) and reports click-log
  coverage; a bad file fails the run here, naming file, column and row. Nothing downstream runs.
* **load_raw** loads them into DuckDB `raw.*` (new file, atomic swap; a no-op when the files are unchanged).
* **dbt** builds staging → intermediate → marts; each model and its tests is a task. One `dbt build`
  process (`dbt_producer_watcher`) does the work; the model tasks report each node's result.
* **certify_build** marks the warehouse as fully built and tested (publish refuses otherwise).
* **monitor** compares the current data with the champion's training reference (PSI, KS), its ROC AUC by
  presentation with the recorded one, and the API's latency and errors (`ml.ml_monitoring_*`), then decides.
* **retrain_or_keep** branches: **train_model** (train, register, move the `champion` alias) when there is no
  champion, a labelled presentation's AUC fell below the recorded AUC by the configured relative drop, or a key
  feature's PSI exceeds its threshold, in data new or changed since the champion's training (thresholds:
  `ml/config.yaml` `monitoring:`, plan: `docs/retraining_plan.md`), otherwise **keep_champion** (logs why).
* **score / insight_cards** (after either branch): serving tables with the champion, insight cards.
* **publish** swaps in the read-only snapshot that Superset and the API read.

All warehouse writers share the pool `laip_warehouse` (1 slot): DuckDB allows one writer.
Schedule: off by default; for a nightly refresh set `LAIP_SCHEDULE="0 3 * * *"`. A live term (each week on the
export as of that date) is the DAG `laip_weekly`.
Params: `data_dir` (empty = the configured dir or the official download; never the bundled sample, which only the
first `make run` of a home uses), `confirm_source_change` (needed to load data of another family than the last
load's: sample vs real data, fewer module-presentations), `full_refresh`, `models`, `retrain` (`auto` = the
monitoring rule, `always`, `never`).
A task that fails notifies the configured alert channels (`laip.yaml` `alerts:`, env `LAIP_ALERT_WEBHOOK_URL`).
Risk signals are descriptive and ML risk bands are model outputs: neither is causal.

(This Airflow DAG file only calls `laip.orchestration.pipeline_dag.build_dag`.)
"""

from __future__ import annotations

from laip.orchestration.dag_config import DAG_ID
from laip.orchestration.pipeline_dag import build_dag

dag = build_dag(DAG_ID, __doc__ or "", live=False)
