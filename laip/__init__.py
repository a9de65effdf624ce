"""Learning Analytics Intelligence Platform (LAIP): OULAD -> DuckDB -> dbt -> ML -> Superset."""

__version__ = "0.1.0"
