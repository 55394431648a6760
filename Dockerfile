# The service image: one image for the API, the relay, the consumers and migrations.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN groupadd --system --gid 10001 oauth \
    && useradd --system --uid 10001 --gid oauth --home-dir /app oauth

# The locked dependencies first, so that a code change does not reinstall them.
COPY requirements.lock ./
RUN pip install -r requirements.lock

COPY pyproject.toml README.md alembic.ini ./
COPY migrations ./migrations
COPY service ./service
# Editable, so that `oauth-apps migrate` finds alembic.ini and migrations/ beside the package.
RUN pip install --no-deps -e .

# Numeric, so that Kubernetes' runAsNonRoot can tell it is not root (deploy/k8s/).
USER 10001:10001
ENV HOST=0.0.0.0 PORT=3000
EXPOSE 3000
# The API's liveness; the relay and consumer services override it (compose, Kubernetes).
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '3000')}/health\", timeout=2)"]
CMD ["oauth-apps", "serve"]
