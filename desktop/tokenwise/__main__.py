"""`python -m tokenwise` is the `tokenwise` command."""

import sys

from .cli import main

sys.exit(main())
