"""Serving benchmark: ``python -m bench.serve_bench`` (what ``make bench`` runs)."""
