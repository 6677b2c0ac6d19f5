"""`fcfs strategies`: the installed strategies, a table on a terminal, lines a script can read anywhere else.

Rich fits a table to 80 columns when stdout is not a terminal, which cut `synchronized-commit`
to `synchronized-comm…` in `fcfs strategies | cat`; piped output is therefore one tab-separated
line per strategy (after a header line), never cut, and `--json` a list of objects.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fcfs.ports.strategy import StrategyFactory

COLUMNS = ("name", "safe across processes", "needs", "description")


def strategies(
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list, one object per strategy."),
) -> None:
    """List the installed strategies (full names when piped; --json for scripts)."""
    from fcfs.bootstrap.plugins import discover

    cards = strategy_cards(discover())
    if as_json:
        typer.echo(json.dumps(cards))
        return
    rows = [
        (
            str(card["name"]),
            "yes" if card["cross_process_safe"] else "no",
            ", ".join(card["needs"]),
            card["description"],
        )
        for card in cards
    ]
    if sys.stdout.isatty():
        table = Table(*COLUMNS)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    else:
        for row in (COLUMNS, *rows):
            typer.echo("\t".join(row))


def strategy_cards(factories: Mapping[str, StrategyFactory]) -> list[dict[str, Any]]:
    """Name, whether it is safe across processes, what it needs, its one-line description; sorted by name."""
    return [
        {
            "name": name,
            "cross_process_safe": factory.cross_process_safe,
            "needs": sorted(str(need) for need in factory.needs),
            "description": factory.description,
        }
        for name, factory in sorted(factories.items())
    ]
