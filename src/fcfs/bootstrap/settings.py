"""One settings object, read from `FCFS_*` environment variables.

Every timeout and pool size the adapters use comes from here, so an operator tunes the
system in one place and tests build a `Settings` directly with what they need.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, get_type_hints

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFAULT_STRATEGY = "lua-async"


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = ""  # empty: SQLite file in `data_dir` (embedded default)
    redis_url: str = ""  # empty: embedded Redis when a strategy needs it
    redis_cluster: bool = False
    redis_prefix: str = "fcfs"  # key prefix: `<prefix>:{c:<couponId>}:stock`
    kafka_bootstrap_servers: str = ""  # empty: embedded tansu broker when a strategy needs it
    strategy: str = DEFAULT_STRATEGY
    data_dir: str = ".fcfs"
    admin_token: str = ""
    require_admin_token: bool = False  # refuse to start with no admin token (deployments set this)
    user_token_secret: str = ""
    user_token_audience: str = ""
    user_token_issuer: str = ""
    instances: int = 1  # API instances sharing this Redis/DB; >1 refuses the process-local strategies
    allow_process_local: bool = False  # run process-local strategies anyway (the lab shows them breaking)

    db_pool_size: int = 20
    db_max_overflow: int = 10
    db_pool_timeout: float = 5.0
    db_statement_timeout: float = 10.0
    redis_pool_size: int = 200
    redis_timeout: float = 2.0
    gate_batching: bool = True  # attempts on one coupon in the same loop turn share one script call
    lock_wait_seconds: float = 5.0
    lock_lease_seconds: float = 5.0
    db_permits: int = 20

    topic: str = "coupon.issued"
    dead_letter_topic: str = "coupon.issued.dlt"
    topic_partitions: int = 3
    consumer_group: str = "fcfs-consumer"
    consumer_batch: int = 500
    consumer_max_rate: float = 0.0  # records/s; 0 means unthrottled
    consumer_retry_max_seconds: float = 30.0
    producer_send_timeout: float = 5.0
    producer_linger_ms: int = 2
    publish_batching: bool = True  # events published in the same loop turn go out as one batch per partition
    reconcile_grace_seconds: float = 30.0

    bulkhead_limit: int = 2000
    bulkhead_wait_seconds: float = 0.5
    max_body_bytes: int = 16_384

    rate_limit_per_user: int = 0  # issue attempts per window per (coupon, user); 0 disables
    rate_limit_per_ip: int = 0  # issue attempts per window per (coupon, client IP); 0 disables
    rate_limit_window_seconds: float = 1.0
    trusted_proxies: str = ""  # comma list of IPs/CIDRs whose X-Forwarded-For is believed
    idempotency_ttl_seconds: float = 3600.0  # how long an Idempotency-Key's first answer is replayed
    idempotency_pending_seconds: float = 30.0  # a claimed key whose attempt died is free again after this
    idempotency_wait_seconds: float = 5.0  # a duplicate waits this long for the first answer, then 408 S003
    sold_out_ttl_seconds: float = 1.0  # in-process sold-out flag per coupon; 0 disables
    result_stream_lifetime_seconds: float = 300.0  # a result stream (SSE) ends after this, with the state read then
    result_stream_keepalive_seconds: float = 15.0  # a comment line this often, so proxies keep an idle stream open
    log_level: str = "info"
    log_format: str = "json"  # "console": readable lines instead of one JSON object per line
    metrics_port: int = 0  # the standalone consumer serves /metrics here; 0 disables

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read `FCFS_<FIELD>`; a malformed value fails at start-up, naming the variable."""
        env = os.environ if env is None else env
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for spec in fields(cls):
            raw = env.get(f"FCFS_{spec.name.upper()}")
            if raw is None:
                continue
            values[spec.name] = _parse(f"FCFS_{spec.name.upper()}", raw, hints[spec.name])
        values.update(overrides)
        return cls(**values)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{os.path.abspath(self.data_dir)}/fcfs.db"


def _parse(name: str, raw: str, kind: Any) -> Any:
    try:
        if kind is bool:
            lowered = raw.strip().lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            return lowered in {"1", "true", "yes", "on"}
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
    return raw
