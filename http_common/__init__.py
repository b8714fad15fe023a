"""HTTP pieces the device API and the trainer share, free of either (and of Discord).

- :mod:`http_common.bodies`: read a request body whole, within a limit, and parse it as JSON
  that is safe to hand on (bounded nesting, finite numbers only).
"""
