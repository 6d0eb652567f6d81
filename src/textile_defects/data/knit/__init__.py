"""Procedural photos of single-jersey knitted fabric, with and without defects.

The built-in sample dataset (:mod:`textile_defects.data.sample`) is drawn with
these modules:

- :mod:`.style`: the random look of one photo (stitch size, yarn, light, camera);
- :mod:`.fabric`: stitch coordinates and a table of per-stitch properties;
- :mod:`.defects`: hole, lycra_cut, needle and twoply, each an edit of that table;
- :mod:`.render`: stitch table -> clean RGB image and defect mask (vectorised numpy);
- :mod:`.camera`: illumination, optical blur, sensor noise, 8-bit quantisation.
"""
