"""What the backend keeps on disk per project, all under ``MODEL_DIR/<project>/`` (see :class:`ProjectDir`)."""
