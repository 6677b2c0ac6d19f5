"""A configuration that cannot serve is refused before anything starts, with the variable to set."""

from __future__ import annotations

from pathlib import Path

import pytest

from fcfs import ConfigurationError, Settings, open_services
from fcfs.bootstrap.plugins import discover
from fcfs.bootstrap.preflight import check, check_consumer, read_settings

FACTORIES = discover()


def test_an_unknown_strategy_is_refused_naming_the_variable_and_the_choices() -> None:
    with pytest.raises(ConfigurationError) as refused:
        check(Settings(strategy="bogus"), FACTORIES, embedded=True)

    message = str(refused.value)
    assert "FCFS_STRATEGY='bogus'" in message
    assert "lua-async" in message
    assert "atomic-query" in message


def test_the_default_strategy_without_redis_and_broker_names_both_settings_and_the_alternatives() -> None:
    with pytest.raises(ConfigurationError) as refused:
        check(Settings(), FACTORIES)

    message = str(refused.value)
    assert "FCFS_REDIS_URL" in message
    assert "FCFS_KAFKA_BOOTSTRAP_SERVERS" in message
    assert "FCFS_STRATEGY=" in message
    assert "atomic-query" in message  # runs on the database alone
    assert "lua," not in message  # needs Redis: not offered


def test_the_default_strategy_runs_on_the_embedded_default() -> None:
    check(Settings(), FACTORIES, embedded=True)


def test_row_locks_on_sqlite_are_refused_naming_a_mariadb_url() -> None:
    with pytest.raises(ConfigurationError) as refused:
        check(Settings(strategy="pessimistic-lock"), FACTORIES, embedded=True)

    assert "FCFS_DATABASE_URL" in str(refused.value)
    check(Settings(strategy="pessimistic-lock", database_url="mysql+aiomysql://u@h/db"), FACTORIES)


def test_a_process_local_default_is_refused_on_a_scaled_out_deployment() -> None:
    with pytest.raises(ConfigurationError) as refused:
        check(Settings(strategy="atomic", instances=2), FACTORIES, embedded=True)

    assert "FCFS_ALLOW_PROCESS_LOCAL" in str(refused.value)
    check(Settings(strategy="atomic", instances=2, allow_process_local=True), FACTORIES, embedded=True)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"require_admin_token": True}, "FCFS_ADMIN_TOKEN"),
        ({"user_token_secret": "short"}, "FCFS_USER_TOKEN_SECRET"),
        ({"trusted_proxies": "10.0.0.0/8, nonsense"}, "FCFS_TRUSTED_PROXIES"),
        ({"log_level": "loud"}, "FCFS_LOG_LEVEL"),
        ({"db_pool_size": 0}, "FCFS_DB_POOL_SIZE"),
    ],
)
def test_a_setting_that_would_fail_in_every_worker_is_refused_up_front(
    overrides: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        check(Settings(**overrides), FACTORIES, embedded=True)  # type: ignore[arg-type]

    assert named in str(refused.value)


def test_a_malformed_variable_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError) as refused:
        read_settings({"FCFS_DB_POOL_SIZE": "lots"})

    assert "FCFS_DB_POOL_SIZE='lots'" in str(refused.value)


def test_the_consumer_without_a_broker_is_told_to_set_one() -> None:
    with pytest.raises(ConfigurationError) as refused:
        check_consumer(Settings())

    assert "FCFS_KAFKA_BOOTSTRAP_SERVERS" in str(refused.value)


async def test_the_library_refuses_an_unknown_strategy_before_opening_anything(tmp_path: Path) -> None:
    settings = Settings(strategy="bogus", data_dir=str(tmp_path / "data"))

    with pytest.raises(ConfigurationError) as refused:
        async with open_services(settings):
            pass

    assert "FCFS_STRATEGY" in str(refused.value)
    assert not (tmp_path / "data").exists()  # no database file was created


async def test_the_library_refuses_the_default_strategy_without_its_backends(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        async with open_services(Settings(data_dir=str(tmp_path))):
            pass

    assert "FCFS_KAFKA_BOOTSTRAP_SERVERS" in str(refused.value)
