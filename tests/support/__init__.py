"""What tests share: fakes, builders, service finders, HTTP and pipeline helpers, fault drivers.

Test modules import from here and never from one another, so a test file can be moved,
renamed or deleted without breaking another.
"""
