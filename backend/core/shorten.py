"""Text cut to a length, saying how long it was: what a caller sent is quoted in logs, answers and files."""
from __future__ import annotations


def shorten(text: str, limit: int) -> str:
    """``text`` as it is when it fits in ``limit`` characters, else its start and its length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"
