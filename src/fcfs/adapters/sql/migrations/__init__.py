"""Alembic migrations of the fcfs schema; run them with `fcfs.adapters.sql.migrate.upgrade`."""
