"""The Spark warehouse (``warehouse.engine: spark``): the same dbt project on Apache Spark (docs/scaling.md).

pyspark is an optional extra (``make setup-spark``): only this package imports it, and only when the Spark engine
is chosen. The session is configured once, in ``dbt/profiles.yml`` (target ``spark``), for dbt and for the
platform's own Spark steps (the raw load, the ML steps' reads and writes).
"""
