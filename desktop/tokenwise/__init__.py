"""Tokenwise: see how a local language model writes, one token at a time."""

__version__ = "0.1.0"
