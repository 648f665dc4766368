"""Fine-tuning with guidance, training from scratch, SAL's two-model scheme, one process or N under torchrun."""
