"""The broker side of the asynchronous pipeline: codec, producer, dead letters, batch consumer, lag, topics."""
