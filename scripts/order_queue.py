#!/usr/bin/env python
"""From a checkout: the same as the console script (see backend/cli/order_queue.py)."""
from backend.cli.order_queue import main

if __name__ == "__main__":
    main()
