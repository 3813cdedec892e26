"""``python -m minichat``: the same as the ``minichat`` command."""

from minichat.cli.app import main

main()
