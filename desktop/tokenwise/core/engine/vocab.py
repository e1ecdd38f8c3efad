"""The model's vocabulary as llama.cpp knows it: text to token ids and back, each token's
bytes and flags (read from llama.cpp the first time a token is asked for), and tokens
described for display (special tokens, byte fragments of one character)."""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from typing import TypeVar

import llama_cpp

from tokenwise.core.interface import TOKEN_BYTE, TOKEN_NORMAL, TOKEN_SPECIAL, Token
from tokenwise.core.trace.records import piece_label

SPECIAL, EOG = 1, 2  # token flags
_V = TypeVar("_V")


class Vocabulary:
    """Token ids, pieces and flags of one loaded model (``handle``: its llama_vocab)."""

    def __init__(self, handle: llama_cpp.llama_vocab_p) -> None:
        self.handle = handle
        self.size = int(llama_cpp.llama_vocab_n_tokens(handle))
        self.pieces = _LazyTable(self._read_piece)  # token id -> bytes
        self.flags = _LazyTable(self._read_flags)  # token id -> SPECIAL | EOG bits
        #: token id -> the piece as text; None where it is not whole UTF-8 characters
        self.texts: _LazyTable[str | None] = _LazyTable(self._read_text)
        self._piece_buf = ctypes.create_string_buffer(64)

    def token_ids(self, text: str, *, add_special: bool = False,
                  parse_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        n_max = len(data) + 16
        buf = (llama_cpp.llama_token * n_max)()
        n = llama_cpp.llama_tokenize(self.handle, data, len(data), buf, n_max,
                                     add_special, parse_special)
        if n < 0:
            n_max = -n
            buf = (llama_cpp.llama_token * n_max)()
            n = llama_cpp.llama_tokenize(self.handle, data, len(data), buf, n_max,
                                         add_special, parse_special)
        return list(buf[:n])

    def piece(self, token_id: int) -> bytes:
        """The token's bytes, special tokens rendered (no 32-byte limit)."""
        return self.pieces[token_id]

    def _read_piece(self, token_id: int) -> bytes:
        buf, size = self._piece_buf, len(self._piece_buf)
        n = llama_cpp.llama_token_to_piece(self.handle, token_id, buf, size, 0, True)
        if n < 0:  # longer than the buffer: ask again with the size it needs
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.handle, token_id, buf, -n, 0, True)
        return ctypes.string_at(buf, n)

    def _read_text(self, token_id: int) -> str | None:
        try:
            return self.pieces[token_id].decode()
        except UnicodeDecodeError:
            return None

    def is_special(self, token_id: int) -> bool:
        return bool(self.flags[token_id] & SPECIAL)

    def is_eog(self, token_id: int) -> bool:
        return bool(self.flags[token_id] & EOG)

    def _read_flags(self, token_id: int) -> int:
        attr = int(llama_cpp.llama_vocab_get_attr(self.handle, token_id))
        special = attr & (llama_cpp.LLAMA_TOKEN_ATTR_CONTROL
                          | llama_cpp.LLAMA_TOKEN_ATTR_USER_DEFINED
                          | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN)
        eog = llama_cpp.llama_vocab_is_eog(self.handle, token_id)
        return (SPECIAL if special else 0) | (EOG if eog else 0)

    def tokenize(self, text: str, *, add_special: bool = False,
                 parse_special: bool = True) -> list[Token]:
        return self.describe(self.token_ids(text, add_special=add_special,
                                            parse_special=parse_special))

    def describe(self, ids: Sequence[int]) -> list[Token]:
        """Tokens with their kind; byte fragments carry the character their run builds."""
        tokens: list[Token] = []
        run: list[int] = []  # indices of consecutive fragments

        def close_run() -> None:
            if not run:
                return
            joined = b"".join(tokens[i].piece for i in run).decode("utf-8", "replace")
            for i in run:
                t = tokens[i]
                tokens[i] = Token(t.token_id, t.piece, t.display, t.kind, joined)
            run.clear()

        for tid in ids:
            piece = self.piece(tid)
            if self.is_special(tid):
                close_run()
                tokens.append(Token(tid, piece, piece.decode("utf-8", "replace"), TOKEN_SPECIAL))
                continue
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError:
                # a part of one UTF-8 character: shown by its bytes
                if run and _starts_character(piece):
                    close_run()
                run.append(len(tokens))
                tokens.append(Token(tid, piece, piece_label(piece), TOKEN_BYTE))
                continue
            close_run()
            tokens.append(Token(tid, piece, text, TOKEN_NORMAL))
        close_run()
        return tokens

    def detokenize(self, ids: Sequence[int], *, special: bool = False) -> str:
        """Text of token ids; special tokens kept only if ``special``."""
        data = b"".join(self.piece(t) for t in ids if special or not self.is_special(t))
        return data.decode("utf-8", "replace")


class _LazyTable(dict[int, _V]):
    """Per-token facts read from llama.cpp the first time each token is asked for."""

    def __init__(self, read: Callable[[int], _V]) -> None:
        super().__init__()
        self._read = read

    def __missing__(self, token_id: int) -> _V:
        value = self[token_id] = self._read(token_id)
        return value


def _starts_character(piece: bytes) -> bool:
    """True if the piece begins with a UTF-8 lead byte (not a continuation byte)."""
    return bool(piece) and (piece[0] & 0xC0) != 0x80
