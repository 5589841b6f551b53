"""The ``flowweaver`` command line (installed as ``flowweaver.cli``).

``app`` is the entry point (exit codes, one-line errors); ``commands`` declares the
Typer commands; ``run`` drives a run; ``tracker`` is the one model the event stream
feeds, and ``live``, ``plain`` and ``jsonl`` are its three views.
Typer, Rich and YAML are imported only by the commands that need them.
"""
