#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    """Run administrative tasks."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    if "SECRET_KEY" not in os.environ and "DEBUG" not in os.environ:
        # A developer's checkout with nothing configured: commands like makemigrations or
        # check should run. The servers (wsgi, asgi, Celery) have no such fallback, and a
        # deployment sets SECRET_KEY, so this never applies there.
        os.environ["DEBUG"] = "1"
        print("manage.py: no SECRET_KEY or DEBUG in the environment; using development settings.", file=sys.stderr)
    try:
        from django.core.management import execute_from_command_line
    except ImportError as exc:
        raise ImportError(
            "Couldn't import Django. Are you sure it's installed and "
            "available on your PYTHONPATH environment variable? Did you "
            "forget to activate a virtual environment?"
        ) from exc
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
