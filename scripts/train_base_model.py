#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/train_base.py)."""
from backend.cli.train_base import main

if __name__ == "__main__":
    main()
