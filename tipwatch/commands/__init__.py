"""What each `tipwatch` command does, one module per kind of job; tipwatch/cli.py only parses
options and calls one function here. A function reports problems as CommandError (one line on
stderr, exit 1) and prints what the user asked for."""


class CommandError(Exception):
    """The command cannot do what was asked; the message says why (and what to do)."""
