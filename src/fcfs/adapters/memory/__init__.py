"""In-process twins of every port: the unit tests' backends and the process-local strategies' locks."""
