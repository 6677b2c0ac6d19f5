"""The twelve issue strategies, each a plugin under the entry-point group `fcfs.strategies`.

Every strategy composes ports from the `StrategyKit` only; the mechanics they share (the
check-and-insert, the gate in front of durability) live once in the underscore modules.
"""
