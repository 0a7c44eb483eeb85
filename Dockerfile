FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agents agents
COPY schemas schemas
COPY topics topics
COPY api api
COPY promptopt promptopt
COPY benchmarks benchmarks
COPY examples examples
RUN pip install --no-cache-dir .
ENV LITELLM_LOCAL_MODEL_COST_MAP=True
CMD ["promptopt", "worker"]
