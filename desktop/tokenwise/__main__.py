"""`python -m tokenwise` is the `tokenwise` command."""

import sys

from tokenwise.cli import main

sys.exit(main())
