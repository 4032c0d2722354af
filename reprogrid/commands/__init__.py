"""Subcommands of ``reprogrid``: one module each, discovered by ``reprogrid.cli``.

A module defines ``register(subparsers)`` (adds its parser, sets ``func``) and may set
``ORDER`` (lower comes first in ``--help``).
"""
