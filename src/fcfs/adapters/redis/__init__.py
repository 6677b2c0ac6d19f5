"""Redis adapters: the Lua issuance gate, distributed and spin locks, and the unconfirmed-event ledger.

Every key of one coupon carries the hash tag `{c:<couponId>}`, so the gate's scripts touch
a single Redis Cluster slot. Vendor errors never leave this package: they become `GateError`
(or `WaitTimedOut` for a lock not had in time).
"""
