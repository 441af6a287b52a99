"""Benchmarks on the local stack (scripts, not tests): see bench/run.py."""
