"""A coupon records whether issuing is open, paused or closed (docs/design.md, live controls).

The database is the source of truth for the state; the gate mirrors it so the admission
script can refuse in the same round trip; `state_version` grows with every change so the
gate never mirrors an older state over a newer one. Every existing coupon starts `open`
(version 0), which is what it was before the columns existed. Constant server defaults
let SQLite add the columns in place (no table rebuild, so no cascade risk as in 0002).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("coupon", sa.Column("state", sa.String(16), nullable=False, server_default=sa.text("'open'")))
    op.add_column("coupon", sa.Column("state_version", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade() -> None:
    op.drop_column("coupon", "state_version")
    op.drop_column("coupon", "state")
