"""Benchmarks that print figures (``./dev bench``); they are not tests."""
