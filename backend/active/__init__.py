"""Which images annotators should see first: query strategies behind one contract, batches, the annotation queue.

Importing the package registers every strategy (one private module each) under its name.
"""
from backend.active import (  # noqa: F401
    _attention_outside,
    _badge,
    _coreset,
    _diversity,
    _gmm,
    _shortcut,
    _similar,
    _uncertainty,
    _wrong_first,
)
from backend.active._similar import similar_tasks
from backend.active.batch import select_batch
from backend.active.pool import STRATEGIES, Pool, Ranking, Strategy, get_strategy, register

__all__ = ["STRATEGIES", "Pool", "Ranking", "Strategy", "get_strategy", "register", "select_batch", "similar_tasks"]
