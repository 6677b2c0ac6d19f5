"""The bridge from the container to Litestar: handlers ask for `ServicesDep`."""

from __future__ import annotations

from typing import cast

from litestar.datastructures import State
from litestar.di import NamedDependency

from fcfs.bootstrap.container import Services

ServicesDep = NamedDependency[Services]


def provide_services(state: State) -> Services:
    return cast("Services", state.services)  # `State` holds Any: the app's lifespan put `Services` there
