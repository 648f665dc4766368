#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/bench_predict.py)."""
from backend.cli.bench_predict import main

if __name__ == "__main__":
    main()
