"""``python -m textile_defects.predict``: see :mod:`textile_defects.predict`."""

from textile_defects.predict.cli import main

main()
