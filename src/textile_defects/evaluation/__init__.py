"""Evaluation: metrics with confidence intervals, the shared inference path, reports and plots."""
