# debate-bot as a container: non-root, data in a volume, /healthz as the health check.
# Build: docker build -t debate-bot .   Run: see compose.yaml and docs/operating.md.
# (Images cannot be built on the project's development machines; this file is linted by
# hadolint in scripts/test.sh.)
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

# The bot's own user: no login shell, no home outside its data.
RUN groupadd --system --gid 10001 debate-bot \
    && useradd --system --uid 10001 --gid debate-bot --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin debate-bot \
    && install -d -m 0700 -o debate-bot -g debate-bot /data \
    && install -d -m 0755 /config

WORKDIR /app
# Dependencies first (a code change does not reinstall them), then the code. The install is
# editable so the bundled debate packs (debates/) are found beside the code.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY debates ./debates
COPY deploy/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir -e /app \
    && chmod 0755 /usr/local/bin/docker-entrypoint.sh \
    && python -m compileall -q /app/bot /app/cogs

# The SQLite database, the server secret file (unless it comes from the environment or a
# mounted secret), exports and the Matrix store: keep this volume, back it up with
# `debate-bot backup` (see docs/operating.md: the secret must stay out of backups).
VOLUME ["/data"]
# /healthz and /metrics, when the config sets observability.listen: "0.0.0.0:9464".
EXPOSE 9464

USER 10001:10001
# The health check asks /healthz: 200 only when the database answers and every enabled
# platform is connected. The first Matrix sync may take a minute: hence the start period.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]

# Secrets: the environment (DISCORD_TOKEN, MATRIX_ACCESS_TOKEN, DEBATE_BOT_SECRET, PGPASSWORD,
# as named in the config), or files: NAME_FILE=/run/secrets/x sets NAME from that file.
ENTRYPOINT ["docker-entrypoint.sh"]
# Exit codes: 0 stopped, 1 error, 2 config or usage error, 3 nothing to serve.
CMD ["debate-bot", "run", "--config", "/config/config.yaml"]
