#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/simulate.py)."""
from backend.cli.simulate import main

if __name__ == "__main__":
    main()
