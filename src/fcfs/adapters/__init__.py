"""Adapters: implementations of the ports, one folder per technology."""
