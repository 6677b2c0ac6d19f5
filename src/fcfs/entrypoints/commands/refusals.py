"""Exit codes, and the settings every command reads first, refused (exit 2) before anything starts.

0: the command did what was asked; 1 (`NOT_DONE`): it ran and did not (nothing measured,
nothing succeeded, a consumer not alive, an inconsistency left); 2 (`REFUSED`): a usage
error or a configuration the preflight rejects, printed without a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer

from fcfs.bootstrap.settings import Settings

if TYPE_CHECKING:
    from fcfs.ports.strategy import StrategyFactory

REFUSED = 2  # the configuration or the arguments, before anything started
NOT_DONE = 1  # it ran, and did not do what was asked


def refuse(message: str) -> NoReturn:
    typer.echo(f"fcfs: {message}", err=True)
    raise typer.Exit(REFUSED)


def read_settings() -> Settings:
    """The settings, a malformed value refused here rather than in a worker."""
    from fcfs.bootstrap.preflight import ConfigurationError
    from fcfs.bootstrap.preflight import read_settings as read

    try:
        return read()
    except ConfigurationError as error:
        refuse(str(error))


def checked_settings() -> Settings:
    """The settings, every one checked, whatever the strategy."""
    from fcfs.bootstrap.preflight import ConfigurationError, check_settings

    settings = read_settings()
    try:
        check_settings(settings)
    except ConfigurationError as error:
        refuse(str(error))
    return settings


def server_settings(*, embedded: bool, factories: dict[str, StrategyFactory] | None = None) -> Settings:
    """Settings checked by the preflight before any embedded service or worker starts; data dir made absolute."""
    from fcfs.bootstrap.plugins import discover
    from fcfs.bootstrap.preflight import ConfigurationError, check
    from fcfs.entrypoints.runtime import absolute_data_dir

    settings = read_settings()
    try:
        check(settings, discover() if factories is None else factories, embedded=embedded)
    except ConfigurationError as error:
        refuse(str(error))
    absolute_data_dir(settings)
    return Settings.from_env()
