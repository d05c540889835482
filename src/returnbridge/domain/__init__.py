"""The pure core: money, returns, orders, refund planning, lifecycle and errors.

Nothing here performs I/O, reads a clock or draws randomness; every other part depends on it.
"""
