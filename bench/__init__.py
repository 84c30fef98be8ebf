"""Repeatable benchmarks for onemap's spatial building blocks; run a module with `python -m bench.<name>`."""
