"""``python -m convcli``: the same as the ``convcli`` command."""

from .entry import main

main()
