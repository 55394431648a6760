# The service image: one image for the API, the relay, the consumers and migrations.
FROM python:3.11.7-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app oauth

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir service && touch service/__init__.py && pip install . && pip uninstall -y oauth-apps

COPY alembic.ini ./
COPY migrations ./migrations
COPY service ./service
# Editable, so that `oauth-apps migrate` finds alembic.ini and migrations/ beside the package.
RUN pip install --no-deps -e .

USER oauth
ENV HOST=0.0.0.0 PORT=3000
EXPOSE 3000
CMD ["oauth-apps", "serve"]
