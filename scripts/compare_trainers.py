#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/compare_trainers.py)."""
from backend.cli.compare_trainers import main

if __name__ == "__main__":
    main()
