"""Subcommands of ``reprogrid``: one module each, registered by name in ``reprogrid.cli.COMMANDS``.

A module defines ``register(subparsers)`` (adds its parser, sets ``func``); ``cli`` imports
it only when its command runs, so these modules may import the stages at their top.
"""
