"""Python code used by the example specs in ``specs/`` (a distinct name, to clash with nothing)."""
