"""Connector names on the command line: ``connectors.yaml`` entries first, then the installed ones.

``--connectors-config PATH`` (or ``$PYBATON_CONNECTORS_CONFIG``, default
``./connectors.yaml``) names the file of external connector commands. The flag
is taken out of the arguments here, because everything else after the
connector's name belongs to the connector command's own parser.
"""

from __future__ import annotations

from pathlib import Path

from pybaton.cli.discovery import ConnectorClass, load_connector
from pybaton.connector.external import config_path, external_class, load_registry
from pybaton.errors import UsageError, UserError

FLAG = "--connectors-config"


def split_config_flag(args: list[str]) -> tuple[str | None, list[str]]:
    """``[…, "--connectors-config", "x.yaml", …]`` → ``("x.yaml", [… without it …])``."""
    rest: list[str] = []
    given: str | None = None
    items = iter(args)
    for arg in items:
        if arg == FLAG:
            given = next(items, None)
            if given is None:
                raise UsageError(f"{FLAG} needs a path")
        elif arg.startswith(FLAG + "="):
            given = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return given, rest


def resolve_connector(name: str, args: list[str]) -> tuple[ConnectorClass, list[str]]:
    """The connector class called ``name`` and the arguments left for its command."""
    given, rest = split_config_flag(args)
    path = config_path(given)
    if given and not Path(given).exists():
        raise UserError(f"{FLAG} {given}: no such file")
    registry = load_registry(path)
    if name in registry:
        return external_class(registry[name]), rest
    try:
        return load_connector(name), rest
    except UserError as exc:
        if registry:
            raise UserError(f"{exc}; {path} defines {', '.join(sorted(registry))}") from None
        raise
