#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/check_shortcuts.py)."""
from backend.cli.check_shortcuts import main

if __name__ == "__main__":
    main()
