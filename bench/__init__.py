"""Benchmarks for Framework Advisor: `make bench` (or `python -m bench.run [--quick] [--only a,b]`).

Every figure is printed next to a baseline measured in the same run; results go to bench/results.json.
"""
