"""Metrics, logging set-up and the instrumented decorators the container wraps around ports and use cases."""
