"""The command line: ``minichat`` and its subcommands (Typer).

``app`` declares the commands; ``options`` declares the settings flags once for
all of them; ``oneshot`` answers a single prompt. ``minichat chat`` hands over
to the REPL in ``minichat.repl``.
"""
