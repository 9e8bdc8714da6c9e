"""``python -m bench.chat``: see the package docstring and bench/README.md."""

import sys

from bench.chat.stack import main

if __name__ == "__main__":
    sys.exit(main())
