"""The backend's use cases, wired from settings: predict, record feedback, train in the background, rank the queue."""
