"""``adapter`` for sqlfluff's jinja templater (``.sqlfluff`` library_path): the linter renders the models without dbt,
so ``adapter.dispatch`` picks the project's ``default__`` implementation (the DuckDB SQL), the one dbt runs on DuckDB."""

import jinja2


@jinja2.pass_context
def dispatch(context, macro_name, macro_namespace=None):
    return context[f"default__{macro_name}"]
