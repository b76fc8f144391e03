"""``python -m service.cli``: the same commands as ``precedent``."""

from service.cli import main

main()
