"""What the tests of opening persistence share, with and without a database."""

from __future__ import annotations

# A password that must never show up in a message, a log line or an exception.
SECRET = "s3cr3t-pa55word"


def fake_embed(texts: list[str]) -> list[list[float]]:
    return [[float(len(t)), 1.0, 0.0, 0.0] for t in texts]


# A semantic store index that needs no model (and, in Postgres, pgvector).
STORE_INDEX = {"dims": 4, "embed": fake_embed}
