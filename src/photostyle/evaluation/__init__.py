"""Measuring and comparing methods: metrics, baselines, the per-image optimisation, post-processing, sheets."""
