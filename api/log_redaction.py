"""Credentials out of the access log. The SSE stream takes its API key as `?key=` (a
browser's EventSource cannot set a header), and uvicorn's access log writes every request's
path with its query: each dashboard viewer's key would sit in the log in clear text, for
anyone who reads logs to replay. The filter rewrites the logged path, never the request.
"""

from __future__ import annotations

import logging
import re

# key=... (and the common spellings of a credential in a query), up to the next & or end.
SECRET_PARAM = re.compile(r"(?i)([?&](?:key|api_key|apikey|token|access_token)=)[^&#\s]*")
REDACTED = "[redacted]"


def redact_query(text: str) -> str:
    return SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


class RedactCredentials(logging.Filter):
    """On uvicorn.access: its record's args are (client, method, path+query, http, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a
                                for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_query(record.msg)
        return True


def install(logger_name: str = "uvicorn.access") -> None:
    """Once per logger, however many apps a process makes (the tests make many)."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
