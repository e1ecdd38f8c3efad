"""Errors whose messages are written for the user, not for a developer."""

from __future__ import annotations


class TokenwiseError(Exception):
    """Base of every error Tokenwise reports to its user. str(error) is the message."""


class ModelFileError(TokenwiseError):
    """A model file cannot be used: missing, not GGUF, truncated, damaged."""


class ModelNotFoundError(ModelFileError):
    pass


class NotGGUFError(ModelFileError):
    pass


class UnsupportedGGUFVersionError(ModelFileError):
    pass


class TruncatedModelError(ModelFileError):
    pass


class NotAModelError(ModelFileError):
    """A well-formed GGUF file that holds no weights (a vocabulary for tokenizer tests)."""


class DamagedModelError(ModelFileError):
    """The file passed the header checks but llama.cpp rejected it or crashed loading it."""


class ContextOverflowError(TokenwiseError):
    """The prompt alone does not fit into the context window."""


class InvalidLogitsError(TokenwiseError):
    """A decode step gave NaN or infinite logits: no distribution to draw from."""


INVALID_LOGITS = (
    "The model produced invalid numbers (NaN or infinite logits) for the next token, so "
    "there is nothing to draw from. The model file may be damaged, or the GPU build may be "
    "computing wrongly: try it with GPU layers set to 0."
)
