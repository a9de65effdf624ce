"""dbt builtins the linter's jinja templater lacks (``.sqlfluff`` library_path): as a package, the names defined here
are top-level in the templates, like dbt's, and ``adapter`` (``adapter.py``) is ``adapter.dispatch``."""

import hashlib


def local_md5(text: str) -> str:
    """dbt's ``local_md5``: the md5 hex digest of ``text``."""
    return hashlib.md5(str(text).encode("utf-8")).hexdigest()
