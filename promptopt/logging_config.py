"""One logging configuration for every process: the project, litellm, Faust and the Kafka
client all log through one handler on stderr, as text or as JSON lines (settings
log_format).

Why this is needed: litellm gives its loggers a handler of its own that re-points itself at
sys.stdout or sys.stderr for every record. Under a Faust worker those are proxies that turn
writes back into log records, so every litellm INFO line (one per LLM call) ended up as a
"--- Logging error ---" traceback. Here litellm's loggers lose that handler and propagate
to the root like any other library, and they log at WARNING unless the process runs at
DEBUG: an LLM call is not news at INFO. The worker also runs Faust with its stdout
redirection off.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"

# Libraries that say something at INFO for every call or every request.
CHATTY = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore", "openai")


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Route every logger to one stderr handler at `level`; call once, early."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields={
            "asctime": "time", "levelname": "level", "name": "logger"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
    adopt_library_loggers()


def adopt_library_loggers() -> None:
    """Take the handlers libraries attach to their own loggers (litellm does at import):
    their records go to the root handler. Call again after importing such a library."""
    root_level = logging.getLogger().getEffectiveLevel()
    for name in CHATTY:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.DEBUG if root_level <= logging.DEBUG else logging.WARNING)
