"""Callables the invalid example specs name (this directory is on sys.path for them)."""

LIMITS = (10, 20)


def plan(limit, parts):
    return [limit // parts] * parts


def total(**parts):
    return sum(parts.values())
