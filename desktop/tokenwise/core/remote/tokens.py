"""Tokens through a server: its /tokenize (with pieces where it gives them), /detokenize,
and its chat template applied on request. Pieces seen once are remembered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tokenwise.core.i18n import _
from tokenwise.core.interface import TOKEN_BYTE, TOKEN_NORMAL, TOKEN_SPECIAL, ChatMessage, Token
from tokenwise.core.remote.client import RemoteClient, RemoteError
from tokenwise.core.remote.probe import LLAMA_CPP_PYTHON, LLAMA_SERVER, VLLM, ServerProbe
from tokenwise.core.trace.records import piece_label


class RemoteTokenizer:
    def __init__(self, client: RemoteClient, probe: ServerProbe, model: str) -> None:
        self.client = client
        self.probe = probe
        self.model = model
        self._pieces: dict[int, bytes] = {}
        self._special: dict[int, bool] = {}

    def remember(self, token_id: int, piece: bytes) -> None:
        if token_id >= 0 and piece:
            self._pieces.setdefault(token_id, piece)

    # ------------------------------------------------------------------ template

    def render(self, messages: Sequence[ChatMessage]) -> tuple[str, list[int]]:
        """The chat as the server's template writes it, and its token ids."""
        wire = [{"role": m.role, "content": m.content} for m in messages]
        kind = self.probe.apply_template
        if kind == LLAMA_SERVER:
            data = self.client.post_json("/apply-template", {"messages": wire})
            text = str(data.get("prompt", "")) if isinstance(data, dict) else ""
            ids = self.token_ids(text, add_special=True)
            if len(ids) >= 2 and ids[0] == ids[1]:
                ids = ids[1:]  # the template wrote its own BOS (as the local engine does)
            return text, ids
        if kind == VLLM:
            data = self.client.post_json("/tokenize", {"model": self.model, "messages": wire,
                                                       "add_generation_prompt": True},
                                         model=self.model)
            ids = _ids(data)
            return self.detokenize(ids), ids
        raise RemoteError(_("This server does not apply its chat template on request."))

    # ------------------------------------------------------------------ tokens

    def token_ids(self, text: str, *, add_special: bool = False,
                  parse_special: bool = True) -> list[int]:
        return [t for t, _ in self._tokenize(text, add_special, parse_special)]

    def _tokenize(self, text: str, add_special: bool, parse_special: bool
                  ) -> list[tuple[int, bytes | None]]:
        kind = self.probe.tokenize
        if kind == LLAMA_SERVER:
            data = self.client.post_json("/tokenize", {
                "content": text, "add_special": add_special, "parse_special": parse_special,
                "with_pieces": True})
            out: list[tuple[int, bytes | None]] = []
            for item in data.get("tokens", []) if isinstance(data, dict) else []:
                if isinstance(item, dict):
                    piece = item.get("piece")
                    raw = (bytes(piece) if isinstance(piece, list) else
                           str(piece).encode("utf-8", "surrogatepass"))
                    out.append((int(item["id"]), raw))
                    self.remember(int(item["id"]), raw)
                else:
                    out.append((int(item), None))
            return out
        if kind == VLLM:
            data = self.client.post_json("/tokenize", {
                "model": self.model, "prompt": text, "add_special_tokens": add_special},
                model=self.model)
            return [(i, None) for i in _ids(data)]
        if kind == LLAMA_CPP_PYTHON:
            data = self.client.post_json("/extras/tokenize", {"input": text})
            ids = _ids(data)
            return [(i, None) for i in ids]
        raise RemoteError(_("This server has no /tokenize endpoint."))

    def tokenize(self, text: str, *, add_special: bool = False,
                 parse_special: bool = True) -> list[Token]:
        if not self.probe.tokenize:
            return []
        return self.describe(self.token_ids(text, add_special=add_special,
                                            parse_special=parse_special))

    def detokenize(self, ids: Sequence[int]) -> str:
        kind = self.probe.tokenize
        if kind == LLAMA_SERVER:
            data = self.client.post_json("/detokenize", {"tokens": list(ids)})
            return str(data.get("content", "")) if isinstance(data, dict) else ""
        if kind == VLLM:
            data = self.client.post_json("/detokenize", {"model": self.model,
                                                         "tokens": list(ids)}, model=self.model)
            return str(data.get("prompt", "")) if isinstance(data, dict) else ""
        if kind == LLAMA_CPP_PYTHON:
            data = self.client.post_json("/extras/detokenize", {"tokens": list(ids)})
            return str(data.get("text", "")) if isinstance(data, dict) else ""
        return ""

    def piece(self, token_id: int) -> bytes:
        """A token's bytes: remembered, else from /detokenize (b"" where there is none)."""
        if token_id in self._pieces:
            return self._pieces[token_id]
        if token_id < 0 or not self.probe.detokenize:
            return b""
        piece = self.detokenize([token_id]).encode("utf-8", "surrogatepass")
        self._pieces[token_id] = piece
        return piece

    def is_special(self, token_id: int, piece: bytes) -> bool:
        """A control token: its text does not tokenize back to it without special parsing."""
        if not (piece.startswith(b"<") and piece.endswith(b">")) or not self.probe.tokenize:
            return False
        if token_id not in self._special:
            try:
                again = self.token_ids(piece.decode("utf-8", "replace"), parse_special=False)
            except RemoteError:
                again = [token_id]
            self._special[token_id] = again != [token_id]
        return self._special[token_id]

    def describe(self, ids: Sequence[int]) -> list[Token]:
        """Tokens with their kind, as far as the server tells them apart."""
        tokens: list[Token] = []
        for tid in ids:
            piece = self.piece(tid)
            if self.is_special(tid, piece):
                tokens.append(Token(tid, piece, piece.decode("utf-8", "replace"),
                                    TOKEN_SPECIAL))
                continue
            try:
                tokens.append(Token(tid, piece, piece.decode("utf-8"), TOKEN_NORMAL))
            except UnicodeDecodeError:
                tokens.append(Token(tid, piece, piece_label(piece), TOKEN_BYTE))
        return tokens


def _ids(data: Any) -> list[int]:
    items = data.get("tokens", []) if isinstance(data, dict) else []
    return [int(i["id"]) if isinstance(i, dict) else int(i) for i in items]
