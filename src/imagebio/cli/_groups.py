"""Click group helpers for room sub-commands.

Some rooms have a main command that takes positional arguments *and* sub-commands
(``imagebio dce SERIES_DIR ...`` and ``imagebio dce fit-curves TABLE.csv``). Click cannot parse both on one group,
so :func:`default_group` builds a group class that routes anything that is not a known sub-command to a default
one: ``imagebio dce SERIES_DIR`` runs ``imagebio dce map SERIES_DIR``.
"""

from __future__ import annotations

from typer.core import TyperGroup

_HELP = ("--help", "-h")


def default_group(default_command: str) -> type[TyperGroup]:
    """A ``TyperGroup`` subclass whose unknown first argument goes to ``default_command``.

    Use as ``typer.Typer(cls=default_group("map"))`` and register a command named ``default_command``.
    """

    class DefaultCommandGroup(TyperGroup):
        def parse_args(self, ctx, args):  # noqa: D401 - click API
            if args and args[0] not in self.commands and args[0] not in _HELP:
                args = [default_command, *args]
            return super().parse_args(ctx, args)

    DefaultCommandGroup.__name__ = f"DefaultCommandGroup[{default_command}]"
    return DefaultCommandGroup
