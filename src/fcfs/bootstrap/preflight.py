"""Refuse a configuration that cannot serve before anything starts, so the operator hears it, not the clients.

Without this, `FCFS_STRATEGY=bogus` (or a strategy whose backends are not configured) starts a
server whose `/ready` is 200 while every issue answers 400 C004/C008, and a malformed setting
surfaces as a worker's crash loop. Every check here is pure (settings and the strategy
registry in, a `ConfigurationError` naming what to set out), so the CLI runs it before it
starts an embedded service or a worker, and `open_services` before it opens a connection.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING

from fcfs.bootstrap.observability.logs import LOG_FORMATS
from fcfs.bootstrap.plugins import scale_out
from fcfs.bootstrap.settings import Settings
from fcfs.ports.strategy import Capability

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fcfs.ports.strategy import StrategyFactory

# RFC 7518 §3.2: an HS256 key at least as long as the hash (the HTTP layer checks against this one).
MIN_USER_TOKEN_SECRET_BYTES = 32

# What to set for each capability a strategy may need.
REMEDY = {
    Capability.SQL: "FCFS_DATABASE_URL",
    Capability.ROW_LOCKS: "FCFS_DATABASE_URL (a MariaDB/MySQL URL: SQLite has no row locks)",
    Capability.REDIS: "FCFS_REDIS_URL",
    Capability.BROKER: "FCFS_KAFKA_BOOTSTRAP_SERVERS",
}

# Settings below 1 leave nothing to work with (a pool of no connection, a topic of no partition).
AT_LEAST_ONE = (
    "db_pool_size",
    "redis_pool_size",
    "topic_partitions",
    "consumer_batch",
    "bulkhead_limit",
    "max_body_bytes",
    "instances",
    "db_permits",
)


class ConfigurationError(ValueError):
    """The settings cannot work; the message says which `FCFS_*` variable to set, and to what."""


def read_settings(env: Mapping[str, str] | None = None) -> Settings:
    """`Settings.from_env`, with a malformed value reported as a `ConfigurationError`."""
    try:
        return Settings.from_env(env)
    except (ValueError, TypeError) as error:
        raise ConfigurationError(str(error)) from None


def configured_capabilities(settings: Settings, *, embedded: bool = False) -> frozenset[Capability]:
    """What the backends will provide; `embedded` counts the Redis and broker `fcfs serve` starts for unset URLs."""
    found = {Capability.SQL}
    if not settings.sqlalchemy_url.startswith("sqlite"):
        found.add(Capability.ROW_LOCKS)
    if settings.redis_url or embedded:
        found.add(Capability.REDIS)
    if settings.kafka_bootstrap_servers or embedded:
        found.add(Capability.BROKER)
    return frozenset(found)


def check_settings(settings: Settings) -> None:
    """Every setting that would otherwise fail inside a worker (or silently refuse every request)."""
    for name in AT_LEAST_ONE:
        if getattr(settings, name) < 1:
            raise ConfigurationError(f"FCFS_{name.upper()}={getattr(settings, name)} must be at least 1")
    if not isinstance(logging.getLevelName(settings.log_level.upper()), int):
        raise ConfigurationError(
            f"FCFS_LOG_LEVEL={settings.log_level!r} is not a log level: set debug, info, warning or error"
        )
    if settings.log_format not in LOG_FORMATS:
        raise ConfigurationError(f"FCFS_LOG_FORMAT={settings.log_format!r} is not a log format: set json or console")
    if settings.require_admin_token and not settings.admin_token:
        raise ConfigurationError(
            "FCFS_REQUIRE_ADMIN_TOKEN is set but FCFS_ADMIN_TOKEN is empty: set FCFS_ADMIN_TOKEN "
            "(refusing open admin endpoints)"
        )
    if settings.user_token_secret and len(settings.user_token_secret.encode()) < MIN_USER_TOKEN_SECRET_BYTES:
        raise ConfigurationError(f"FCFS_USER_TOKEN_SECRET must be at least {MIN_USER_TOKEN_SECRET_BYTES} bytes")
    for part in (piece.strip() for piece in settings.trusted_proxies.split(",")):
        try:
            if part:
                ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ConfigurationError(f"FCFS_TRUSTED_PROXIES: {part!r} is not an IP address or network") from None


def check_strategy(
    settings: Settings, factories: Mapping[str, StrategyFactory], capabilities: frozenset[Capability]
) -> None:
    """The default strategy exists and runs on `capabilities`; the message names the variables to set."""
    name = settings.strategy
    factory = factories.get(name)
    scaled_out = scale_out(settings)
    runnable = sorted(
        other
        for other, candidate in factories.items()
        if candidate.needs <= capabilities and (candidate.cross_process_safe or not scaled_out)
    )
    choose = f"FCFS_STRATEGY=<one of: {', '.join(runnable)}>" if runnable else "FCFS_STRATEGY"
    if factory is None:
        raise ConfigurationError(
            f"FCFS_STRATEGY={name!r} is not an installed strategy: set {choose} (see `fcfs strategies`)"
        )
    missing = sorted(factory.needs - capabilities)
    if missing:
        remedies = " and ".join(REMEDY[capability] for capability in missing)
        raise ConfigurationError(
            f"strategy {name!r} needs {', '.join(missing)}, {'which is' if len(missing) == 1 else 'which are'} "
            f"not configured: set {remedies}, or choose {choose}"
        )
    if scaled_out and not factory.cross_process_safe:
        raise ConfigurationError(
            f"strategy {name!r} coordinates in process memory and cannot run {scaled_out}: set FCFS_STRATEGY "
            "to one that is safe across processes (`fcfs strategies`), or FCFS_ALLOW_PROCESS_LOCAL=true (the lab)"
        )


def check(settings: Settings, factories: Mapping[str, StrategyFactory], *, embedded: bool = False) -> None:
    """Everything a server needs before it starts: settings, then the default strategy on the backends."""
    check_settings(settings)
    check_strategy(settings, factories, configured_capabilities(settings, embedded=embedded))


def check_consumer(settings: Settings) -> None:
    """What the consumer process needs (it issues nothing, so the strategy does not matter to it)."""
    check_settings(settings)
    if not settings.kafka_bootstrap_servers:
        raise ConfigurationError("the consumer needs a broker: set FCFS_KAFKA_BOOTSTRAP_SERVERS")
