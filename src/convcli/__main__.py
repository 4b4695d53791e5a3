"""``python -m convcli``: the same as the ``convcli`` command."""

from .cli import main

main()
