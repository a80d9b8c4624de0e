# cryptoql API image. Build: docker build -t cryptoql .
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system cryptoql && useradd --system --gid cryptoql --home /srv cryptoql
WORKDIR /srv

# Dependencies first (better layer caching), then the source.
COPY pyproject.toml README.md ./
COPY app ./app
COPY schema ./schema
COPY resolvers ./resolvers
COPY loaders ./loaders
COPY storage ./storage
COPY sources ./sources
COPY ingest ./ingest
COPY pubsub ./pubsub
COPY cost ./cost
RUN pip install . && mkdir -p /data && chown cryptoql:cryptoql /data

USER cryptoql
ENV CRYPTOQL_HOST=0.0.0.0 \
    CRYPTOQL_PORT=8000 \
    CRYPTOQL_DATA_DIR=/data \
    CRYPTOQL_ENV=production
EXPOSE 8000
VOLUME ["/data"]

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"

CMD ["cryptoql", "serve"]
