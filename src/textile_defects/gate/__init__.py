"""A normal-only anomaly gate: PatchCore-style patch memory of good fabric.

Patch features of an ImageNet encoder, taken from the whole frame at its own
resolution (a strided feature map, never a squeezed frame), are collected from
good training photos only; a greedy k-center coreset of them forms a memory
bank. A new frame's patch score is the distance of each of its patches to the
nearest bank patch, its image score the largest patch score, and the gate calls
it defective above a threshold set on held-out good photos.

Modules: :mod:`~textile_defects.gate.features` (encoder -> patch features),
:mod:`~textile_defects.gate.memory` (coreset, nearest-neighbour scores),
:mod:`~textile_defects.gate.threshold` (threshold for a target specificity),
:mod:`~textile_defects.gate.model` (building and scoring a gate),
:mod:`~textile_defects.gate.checkpoint` (the self-describing file),
:mod:`~textile_defects.gate.heatmap` (overlays for people),
:mod:`~textile_defects.gate.metrics` (evaluation figures),
:mod:`~textile_defects.gate.localisation` (its patch maps against defect masks),
:mod:`~textile_defects.gate.report` (its out-of-fold score files and detection figures).
"""
