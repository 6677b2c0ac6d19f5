"""The HTTP entrypoint: parse → command → use case → envelope."""
