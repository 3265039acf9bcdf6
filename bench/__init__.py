"""Benchmarks of the lab's services on 127.0.0.1 (``python -m bench``); not timed tests."""
