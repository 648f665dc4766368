#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/make_dataset.py)."""
from backend.cli.make_dataset import main

if __name__ == "__main__":
    main()
