"""The one compiled part: the inspection's pass over the logits (metadata: pyproject.toml).

It is optional: where it can't be built, the engine computes the same numbers with numpy,
more slowly.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tokenwise.core._scan", ["desktop/tokenwise/core/_scan.c"],
                             optional=True)])
