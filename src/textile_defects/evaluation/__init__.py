"""The evaluate stage: each checkpoint scored on the single split's sets, its metrics files and plots.

Scores come from the shared inference path (:mod:`textile_defects.runtime.inference`),
figures and intervals from :mod:`textile_defects.stats`. The cross-validation's
pooled report is :mod:`textile_defects.crossval`'s own; nothing here imports it.
"""
