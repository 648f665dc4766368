#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/bench_report.py)."""
from backend.cli.bench_report import main

if __name__ == "__main__":
    main()
