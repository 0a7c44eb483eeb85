# One image for every role: `promptopt api`, `promptopt worker [--agents ...]`,
# `promptopt sim-llm`. Used by docker-compose.yml and infra/k8s/.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    # litellm reads its bundled model cost map instead of fetching one at import.
    LITELLM_LOCAL_MODEL_COST_MAP=True

WORKDIR /app
COPY pyproject.toml README.md ./
COPY agents agents
COPY schemas schemas
COPY topics topics
COPY api api
COPY promptopt promptopt
COPY benchmarks benchmarks
COPY examples examples
RUN pip install . \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin promptopt \
    && mkdir -p /data \
    && chown promptopt:promptopt /data

# Never root at run time; state a process keeps (Faust's data dir, learned pattern stats,
# the predictor file) goes to /data, a volume in compose and an emptyDir in Kubernetes.
USER 10001:10001
ENV PROMPTOPT_FAUST_DATA_DIR=/data/faust \
    PROMPTOPT_PATTERN_STATS_PATH=/data/pattern-stats.json \
    PROMPTOPT_PREDICTOR_PATH=/data/predictor.joblib \
    # Reachable from outside the container: the API, a worker's /metrics, the simulator.
    PROMPTOPT_API_HOST=0.0.0.0 \
    PROMPTOPT_FAUST_WEB_HOST=0.0.0.0 \
    # What HEALTHCHECK asks; each role sets its own (compose, infra/k8s).
    PROMPTOPT_HEALTHCHECK_URL=http://127.0.0.1:8000/health
VOLUME ["/data"]

# 8000 API (REST, SSE, dashboard) · 9464 the API's /metrics · 6066 a worker's /metrics
# · 8765 the LLM simulator
EXPOSE 8000 9464 6066 8765

HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["promptopt", "probe"]

CMD ["promptopt", "worker"]
