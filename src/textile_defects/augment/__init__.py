"""Augmentation: the report's probability-driven, class-aware operations (Steps 3 to 5).

- :mod:`.geometry`: flips, rotations, zoom, shifts as one affine warp with mirrored borders; masks too;
- :mod:`.photometric`: brightness, contrast, saturation, hue (one colour matrix), sharpness, blur, noise;
- :mod:`.ops`: operation names and order; applies a recorded operation list to an image;
- :mod:`.policy`: draws which operations a copy gets, and their parameters;
- :mod:`.settings`: an augment section of params.yaml, validated;
- :mod:`.frame`: worst-case check that geometric ranges keep defects in the picture;
- :mod:`.counts`: copies per original for an even growth and an 80:20 split;
- :mod:`.writer`: writes an augmented set across all cores, reproducibly;
- :mod:`.grid`: per-class picture grids of originals beside their copies.
"""

import cv2

# Augmentation runs one process per core (writer.py). OpenCV's own thread pool
# would only contend with them, and a pool once started does not survive
# fork(): a forked worker waits forever on threads it does not have. With one
# thread OpenCV never starts the pool.
cv2.setNumThreads(1)
