#!/bin/sh
# One PostgreSQL role and one database per service of the production profile (docs/deployment.md): airflow,
# superset, mlflow. Each role logs in with its own password (AIRFLOW_DB_PASSWORD, SUPERSET_DB_PASSWORD,
# MLFLOW_DB_PASSWORD), owns only its database, and is neither superuser nor able to create roles or databases; no
# other role may connect to that database. Idempotent: a second run only resets the passwords.
#
# Run by the postgres image at first start (mounted into /docker-entrypoint-initdb.d/), and by
# laip.services.postgres_server for `make up-prod` and the tests. psql's connection comes from the environment
# (PGHOST, PGPORT, PGUSER, PGPASSWORD; in the image, POSTGRES_USER over its local socket).
set -eu
export PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"
export PGDATABASE="${PGDATABASE:-postgres}"
for service in airflow superset mlflow; do
  variable="$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  if [ -z "$(printenv "$variable" || true)" ]; then
    echo "init-laip-databases: $variable is not set (the $service role's password)" >&2
    exit 1
  fi
  # the password reaches psql through its environment (\getenv), never on a command line
  PASSWORD_VARIABLE="$variable" psql -q -X -v ON_ERROR_STOP=1 -v role="$service" <<'SQL'
\getenv password_variable PASSWORD_VARIABLE
\getenv password :password_variable
select format('create role %I', :'role') where not exists (select from pg_roles where rolname = :'role') \gexec
alter role :"role" with login nosuperuser nocreatedb nocreaterole noreplication password :'password';
select format('create database %I owner %I', :'role', :'role')
  where not exists (select from pg_database where datname = :'role') \gexec
revoke all on database :"role" from public;
grant connect, temporary on database :"role" to :"role";
SQL
done
