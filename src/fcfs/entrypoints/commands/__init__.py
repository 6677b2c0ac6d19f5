"""The `fcfs` subcommands, one module per command group; `fcfs.entrypoints.cli` registers them on the app."""
