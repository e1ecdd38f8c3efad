"""Test connection: what a server is, which models it serves, and what it can give.

The probe reads ``/v1/models`` (or Ollama's ``/api/tags``), then asks the endpoints that
tell servers apart: llama-server's ``/props``, vLLM's ``/version``, SGLang's
``/get_model_info``, Ollama's ``/api/version``, llama-cpp-python's ``/extras/tokenize``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tokenwise.core.i18n import N_, _
from tokenwise.core.remote.client import (
    BadAnswerError,
    NotFoundError,
    RemoteClient,
    RemoteError,
    StatusError,
)

LLAMA_SERVER = "llama-server"
LLAMA_CPP_PYTHON = "llama-cpp-python"
VLLM = "vllm"
SGLANG = "sglang"
OLLAMA = "ollama"
LMSTUDIO = "lmstudio"
OPENAI_COMPATIBLE = "openai-compatible"

KIND_LABELS = {
    LLAMA_SERVER: "llama.cpp llama-server",
    LLAMA_CPP_PYTHON: "llama-cpp-python's server",
    VLLM: "vLLM",
    SGLANG: "SGLang",
    OLLAMA: "Ollama",
    LMSTUDIO: "LM Studio",
    OPENAI_COMPATIBLE: N_("an OpenAI-compatible server"),
}

#: what each server's probabilities are, in words (shown with every remote reply)
PROBABILITY_LABELS = {
    LLAMA_SERVER: N_("llama-server's n_probs: before sampling (softmax of the raw logits)"),
    LLAMA_CPP_PYTHON: N_("llama-cpp-python's logprobs: softmax of the raw logits"),
    VLLM: N_("vLLM's logprobs: raw log-probabilities unless the server was started with "
             "another --logprobs-mode"),
    OLLAMA: N_("Ollama's logprobs: before sampling, not scaled by the temperature"),
}
POST_SAMPLING_LABEL = N_("llama-server's post_sampling_probs: after its sampler chain")
REPORTED_LABEL = N_("as reported by the server")

_OWNERS = {"llamacpp": LLAMA_SERVER, "me": LLAMA_CPP_PYTHON, "vllm": VLLM, "sglang": SGLANG,
           "library": OLLAMA, "ollama": OLLAMA, "organization_owner": LMSTUDIO}


@dataclass(frozen=True, slots=True)
class RemoteModel:
    id: str
    context_length: int | None = None  # as the server reports it, if it does


@dataclass(frozen=True, slots=True)
class ServerProbe:
    """What Test connection found."""

    base_url: str
    kind: str
    version: str = ""
    models: tuple[RemoteModel, ...] = ()
    context_length: int | None = None  # the serving context (llama-server's n_ctx)
    tokenize: str = ""  # "llama-server", "vllm", "llama-cpp-python" or "" for none
    detokenize: bool = False
    apply_template: str = ""  # "llama-server" (/apply-template), "vllm" (/tokenize messages)
    prompt_ids: str = ""  # "completion" (llama-server), "v1" (/v1/completions) or ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return _(KIND_LABELS.get(self.kind, self.kind))

    @property
    def probability_label(self) -> str:
        return _(PROBABILITY_LABELS.get(self.kind, REPORTED_LABEL))

    def model(self, model_id: str) -> RemoteModel | None:
        return next((m for m in self.models if m.id == model_id), None)

    def context_for(self, model_id: str) -> int | None:
        found = self.model(model_id)
        if self.context_length:
            return self.context_length
        return found.context_length if found is not None else None

    def summary(self) -> list[str]:
        """Test connection's answer, one line each."""
        name = f"{self.label} {self.version}".strip()
        lines = [_("{server} at {url}").format(server=name, url=self.base_url)]
        names = ", ".join(short_model_name(m.id) for m in self.models[:5]) or _("none")
        if len(self.models) > 5:
            names = _("{names} and {count} more").format(names=names,
                                                         count=len(self.models) - 5)
        lines.append(_("Models: {names}").format(names=names))
        ctx = self.context_length or next((m.context_length for m in self.models
                                           if m.context_length), None)
        lines.append(_("Context length: {count} tokens").format(count=f"{ctx:,}") if ctx else
                     _("Context length: not reported by the server"))
        lines.append(_("Probabilities: {label}").format(label=self.probability_label))
        lines.append(_("Tokenizer view: yes") if self.tokenize else
                     _("Tokenizer view: unavailable (no /tokenize)"))
        if self.prompt_ids and self.apply_template:
            lines.append(_("Branching and step mode: yes (the prompt is sent as token ids)"))
        elif not self.prompt_ids:
            lines.append(_("Branching and step mode: unavailable (no endpoint takes the prompt "
                           "as token ids)"))
        else:
            lines.append(_("Branching and step mode: unavailable (the server does not apply "
                           "its chat template on request)"))
        lines.extend(_(note) for note in self.notes)
        return lines


def short_model_name(model: str) -> str:
    """A GGUF path (llama-server's model id) by its file name."""
    return model.replace("\\", "/").rsplit("/", 1)[-1] if model.endswith(".gguf") else model


def probe(client: RemoteClient) -> ServerProbe:
    """Ask the server what it is. Raises RemoteError (refused, TLS, key, not a server)."""
    notes: list[str] = []
    raw_models: list[dict[str, Any]] = []
    kind = ""
    try:
        data = client.get_json("/v1/models")
        raw_models = [m for m in data.get("data", []) if isinstance(m, dict)] if isinstance(
            data, dict) else []
    except NotFoundError:
        tags = _try(client, "/api/tags")  # Ollama without its OpenAI layer
        if not isinstance(tags, dict):
            raise RemoteError(_("{url} does not look like an inference server "
                                "(no /v1/models).").format(url=client.base_url)) from None
        kind = OLLAMA
        raw_models = [{"id": m.get("name", "")} for m in tags.get("models", [])]
    for m in raw_models:
        kind = kind or _OWNERS.get(str(m.get("owned_by", "")), "")
    models = [RemoteModel(str(m.get("id", "")), _model_context(m)) for m in raw_models
              if m.get("id")]

    version = ""
    context: int | None = None
    props = _try(client, "/props") if kind in ("", LLAMA_SERVER) else None
    if isinstance(props, dict) and "default_generation_settings" in props:
        kind = LLAMA_SERVER
        settings = props.get("default_generation_settings") or {}
        context = _int(settings.get("n_ctx")) or _int(props.get("n_ctx"))
        version = str(props.get("build_info", ""))
    if kind in ("", VLLM):
        found = _try(client, "/version")
        if isinstance(found, dict) and "version" in found:
            kind, version = VLLM, str(found["version"])
    if kind in ("", SGLANG):
        info = _try(client, "/get_model_info")
        if isinstance(info, dict) and "model_path" in info:
            kind = SGLANG
    if kind in ("", OLLAMA):
        found = _try(client, "/api/version")
        if isinstance(found, dict) and "version" in found:
            kind, version = OLLAMA, str(found["version"])
    if kind == "" and client.exists("POST", "/extras/tokenize", {"input": ""}):
        kind = LLAMA_CPP_PYTHON
    kind = kind or OPENAI_COMPATIBLE

    tokenize, detok, template, ids = "", False, "", ""
    if kind == LLAMA_SERVER:
        tokenize, detok, template, ids = LLAMA_SERVER, True, LLAMA_SERVER, "completion"
        if not client.exists("POST", "/apply-template", {"messages": []}):
            template = ""
    elif kind == VLLM:
        tokenize, detok, template, ids = VLLM, True, VLLM, "v1"
    elif kind == LLAMA_CPP_PYTHON:
        tokenize, detok = LLAMA_CPP_PYTHON, True
        notes.append(N_("llama-cpp-python's server takes prompts as text only, and needs "
                        "--logits_all true for probabilities."))
    elif kind == OLLAMA:
        notes.append(N_("Ollama gives probabilities from version 0.12.11 on."))
    return ServerProbe(base_url=client.base_url, kind=kind, version=version,
                       models=tuple(models), context_length=context, tokenize=tokenize,
                       detokenize=detok, apply_template=template, prompt_ids=ids,
                       notes=tuple(notes))


def _try(client: RemoteClient, path: str) -> Any:
    """GET ``path``; None where the server has no such endpoint or answers oddly."""
    try:
        return client.get_json(path)
    except (NotFoundError, StatusError, BadAnswerError):
        return None


def _model_context(m: dict[str, Any]) -> int | None:
    meta = m.get("meta") if isinstance(m.get("meta"), dict) else {}
    for value in (m.get("max_model_len"), m.get("context_length"),
                  (meta or {}).get("n_ctx_train")):
        found = _int(value)
        if found:
            return found
    return None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
