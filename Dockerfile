# RILON Liaison API. The default command migrates and serves; any other `rilon` verb runs in the
# same image (`rilon worker` for webhook workers). Production sets RILON_DATABASE_URL
# (PostgreSQL), RILON_JWT_KEYS or RILON_JWT_SECRET, and RILON_SECRETS_KEY (RILON_ENV=prod
# refuses to start without them); see docs/OPERATOR.md.

ARG PYTHON_IMAGE=python:3.12-slim

# Build stage: install the versions uv.lock names (with their hashes; no dev extra) and then the
# project itself, not editable, into a venv; the source, uv and its build tree stay behind.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    UV_NO_CACHE=1 \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /src
COPY requirements-uv.txt pyproject.toml uv.lock ./
# --locked: the build stops if pyproject.toml asks for something uv.lock does not hold. The
# dependencies get their own layer, so a change to the source alone does not fetch them again.
RUN pip install --require-hashes --only-binary :all: -r requirements-uv.txt \
    && uv sync --locked --no-dev --no-editable --no-install-project
COPY . .
RUN uv sync --locked --no-dev --no-editable \
    && /opt/venv/bin/python -I -c "import api.app, cli.main; from core.migrations import MIGRATIONS_DIR as d; assert (d / 'script.py.mako').is_file() and any((d / 'versions').glob('*.py'))"

# Runtime stage.
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RILON_ENV=prod
# A fixed numeric uid, so orchestrators can check runAsNonRoot; its home is the working
# directory, where the SQLite default (./rilon.db) would live if RILON_DATABASE_URL is unset.
RUN groupadd --system --gid 10001 rilon \
    && useradd --system --uid 10001 --gid rilon --home-dir /var/lib/rilon --create-home \
        --shell /usr/sbin/nologin rilon
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
WORKDIR /var/lib/rilon
EXPOSE 8000
# slim has no curl: ask Python. urlopen raises on refusal, timeout or any non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# exec: uvicorn replaces the shell as PID 1, so `docker stop` (SIGTERM) shuts it down cleanly.
CMD ["sh", "-c", "rilon db upgrade && exec rilon serve --host 0.0.0.0 --port 8000"]
