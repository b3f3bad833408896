"""Subcommands of the `attsiammask` command; each module exposes `register(subparsers)`."""
