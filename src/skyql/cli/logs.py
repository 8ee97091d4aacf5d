"""`--verbose`: skyql's DEBUG log on stderr (requests, retries, token refreshes), with secrets masked."""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator
from typing import TextIO

from skyql.terminal import printable

# skyql never logs a secret; these catch one that a server or a library put into a message anyway.
_SECRETS = (
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1[redacted]"),
    (re.compile(r"ya29\.[\w.~+/=-]+"), "[redacted]"),  # Google OAuth access tokens
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
        "[redacted private key]",
    ),
    (
        re.compile(
            r'(?i)("?(?:private_key|access_token|refresh_token|id_token|client_secret|assertion)"?'
            r'\s*[:=]\s*"?)(?!\[redacted)[^"\s,&}]+'
        ),
        r"\1[redacted]",
    ),
    # A request body a server echoed back: {"rootPassword": "...", "clientSecret": "..."} (see fetch/secrets.py).
    (
        re.compile(
            r'(?i)("[\w-]*(?:password|passwd|passphrase|secret|private_?key|api_?key)[\w-]*"\s*:\s*")'
            r'(?!\[redacted)(?:[^"\\]|\\.)*"'
        ),
        r'\1[redacted]"',
    ),
)
FORMAT = "%(asctime)s %(name)s %(levelname)s: %(message)s"


def for_terminal(text: str) -> str:
    """A message for stderr: secrets masked, control characters escaped (line breaks kept)."""
    return printable(redact(text), newlines=True)


def redact(text: str) -> str:
    """`text` with anything shaped like a token or a private key replaced by [redacted]."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets (and escapes control characters) in a record's message before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = for_terminal(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@contextlib.contextmanager
def verbose_logging(enabled: bool, stream: TextIO | None = None) -> Iterator[None]:
    """While active (when `enabled`), skyql's loggers write DEBUG records to `stream` (stderr)."""
    if not enabled:
        yield
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("skyql")
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
