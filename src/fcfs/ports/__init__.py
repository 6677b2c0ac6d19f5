"""The capabilities the use cases and strategies need, as `typing.Protocol`s."""
