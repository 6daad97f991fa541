"""The soak: minutes of mixed traffic against a real `rilon serve`, then a verdict.

`python -m tools.soak --help` (tools/soak/__main__.py) says what it sends and what must hold;
tests/test_soak.py runs a one-minute one in the suite.
"""
