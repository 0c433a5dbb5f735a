#!/bin/sh
# The container's entry point: secrets from files, migrations before serving, then `parking`.
set -eu

# Docker and compose secrets arrive as files: NAME_FILE=/run/secrets/x sets NAME to its content
# (PARKING_SECRET_KEY_FILE, DATABASE_URL_FILE, ...), so no secret sits in the environment file.
for variable in $(env | sed -n 's/^\(PARKING_[A-Z0-9_]*\|DATABASE_URL\|REDIS_URL\|MQTT_URL\)_FILE=.*$/\1/p'); do
    file=$(printenv "${variable}_FILE")
    value=$(cat "$file")
    export "$variable=$value"
    unset "${variable}_FILE"
done

# Migrate on start (alembic, to head) unless told not to: with several hosts, run
# `parking migrate` once as a release step and set MIGRATE_ON_START=false (docs/deploy.md).
if [ "${1:-serve}" = "serve" ] && [ "${MIGRATE_ON_START:-true}" = "true" ]; then
    parking migrate
fi

exec parking "$@"
