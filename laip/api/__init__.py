"""The prediction API (FastAPI app, request schemas, prediction log, benchmark); see laip/api/app.py."""
