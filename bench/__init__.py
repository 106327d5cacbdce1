"""Benchmarks: each prints its figures and compares with a peer in the same run.

Run them with ``python -m bench [NAME ...] [--quick]`` (see bench/README.md).
"""
