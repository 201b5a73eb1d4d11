#!/bin/sh
# Secrets from files: for each variable named in DEBATE_BOT_SECRET_VARS (by default the names
# the example config uses), NAME_FILE=/path exports NAME with that file's content (Docker and
# compose secrets are mounted as files under /run/secrets). Only those names: other *_FILE
# variables of the environment are left alone. Then run the command (debate-bot run …).
set -eu

: "${DEBATE_BOT_SECRET_VARS:=DEBATE_BOT_SECRET DISCORD_TOKEN MATRIX_ACCESS_TOKEN MATRIX_PASSWORD PGPASSWORD}"

for name in $DEBATE_BOT_SECRET_VARS; do
  case $name in
    *[!A-Z0-9_]* | [0-9]*)
      echo "docker-entrypoint: $name is not a variable name" >&2
      exit 2
      ;;
  esac
  eval "file=\${${name}_FILE:-}"
  [ -n "$file" ] || continue
  eval "already=\${${name}:-}"
  if [ -n "$already" ]; then
    echo "docker-entrypoint: both $name and ${name}_FILE are set; keep one" >&2
    exit 2
  fi
  if [ ! -r "$file" ]; then
    echo "docker-entrypoint: ${name}_FILE names $file, which cannot be read" >&2
    exit 2
  fi
  value=$(cat "$file")
  export "$name=$value"
  unset "${name}_FILE"
done

exec "$@"
