"""The model of first-come-first-served issuance (pure Python) and its use cases."""
