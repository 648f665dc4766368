#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/bench_train.py)."""
from backend.cli.bench_train import main

if __name__ == "__main__":
    main()
