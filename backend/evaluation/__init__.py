"""The evaluation harness: biased datasets with known objects, simulated annotators, the simulator and its report.

The product never imports this package; it builds on the product's layers to measure them.
"""
