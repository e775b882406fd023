"""The speed-at-scale benchmark: `python -m bench` (see `bench/run.py`)."""
