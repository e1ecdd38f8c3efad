"""Decoding strategies named as the command line and the Compare view write them.

  greedy                 temperature 0: always the most probable token
  beam:W[:ALPHA]         beam search of width W (1-8), length penalty ALPHA (default 1)
  temp:T                 sampling at temperature T, nothing cut
  top-k:K, top-p:P, min-p:M
                         sampling at temperature 1 from the K best tokens / the nucleus of
                         mass P / the tokens at least M times as probable as the best
Sampling parts combine with '+': ``temp:0.7+top-p:0.9``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenwise.core.errors import TokenwiseError
from tokenwise.core.sampling.settings import SamplerSettings
from tokenwise.core.trace.beams import BeamSettings

GREEDY = "greedy"
BEAM = "beam"
SAMPLE = "sample"

#: sampling from the model's own distribution: temperature 1, nothing cut, no penalties
PLAIN_SAMPLING = SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0,
                                 repeat_penalty=1.0, presence_penalty=0.0,
                                 frequency_penalty=0.0)
DEFAULT_STRATEGIES = "greedy,beam:4,top-p:0.9,temp:0.8"

_SAMPLING_KEYS = {"temp": "temperature", "temperature": "temperature", "top-k": "top_k",
                  "top-p": "top_p", "min-p": "min_p"}


@dataclass(frozen=True, slots=True)
class Strategy:
    """One way to write a reply: greedy, a beam search or a sampling setting."""

    name: str  # as written, e.g. "beam:4"
    kind: str  # GREEDY, BEAM or SAMPLE
    sampler: SamplerSettings | None = None
    beam: BeamSettings | None = None

    @property
    def max_tokens(self) -> int:
        if self.beam is not None:
            return self.beam.max_tokens
        assert self.sampler is not None
        return self.sampler.max_tokens


def greedy(max_tokens: int) -> Strategy:
    return Strategy(GREEDY, GREEDY, sampler=SamplerSettings(
        temperature=0.0, top_k=0, top_p=1.0, min_p=0.0, max_tokens=max_tokens))


def beam(width: int, max_tokens: int, alpha: float = 1.0) -> Strategy:
    settings = BeamSettings(width=width, max_tokens=max_tokens, length_penalty=alpha)
    try:
        settings.validate()
    except ValueError as exc:
        raise TokenwiseError(f"Beam search: {exc}.") from exc
    name = f"beam:{width}" if alpha == 1.0 else f"beam:{width}:{alpha:g}"
    return Strategy(name, BEAM, beam=settings)


def sampling(max_tokens: int, seed: int | None, *, temperature: float = 1.0, top_k: int = 0,
             top_p: float = 1.0, min_p: float = 0.0, name: str = "") -> Strategy:
    settings = PLAIN_SAMPLING.with_(temperature=temperature, top_k=top_k, top_p=top_p,
                                    min_p=min_p, seed=seed, max_tokens=max_tokens)
    try:
        settings.validate()
    except ValueError as exc:
        raise TokenwiseError(f"Bad sampling setting in {name or 'a strategy'}: {exc}.") from exc
    if not name:
        parts = [f"temp:{temperature:g}"] if temperature != 1.0 else []
        parts += [f"top-k:{top_k}"] if top_k else []
        parts += [f"top-p:{top_p:g}"] if top_p < 1.0 else []
        parts += [f"min-p:{min_p:g}"] if min_p else []
        name = "+".join(parts) or "temp:1"
    return Strategy(name, SAMPLE, sampler=settings)


def parse_strategy(spec: str, *, max_tokens: int = 64, seed: int | None = None) -> Strategy:
    """One strategy from its name (see the module's docstring); a clear error otherwise."""
    spec = spec.strip()
    if not spec:
        raise TokenwiseError("An empty strategy name: write e.g. greedy, beam:4 or top-p:0.9.")
    if spec == GREEDY:
        return greedy(max_tokens)
    if spec.startswith("beam"):
        parts = spec.split(":")
        try:
            width = int(parts[1]) if len(parts) > 1 else 4
            alpha = float(parts[2]) if len(parts) > 2 else 1.0
        except ValueError:
            raise TokenwiseError(
                f"Cannot read {spec!r}: write beam:WIDTH or beam:WIDTH:ALPHA, e.g. beam:4 "
                "or beam:4:0.6.") from None
        if len(parts) > 3:
            raise TokenwiseError(f"Cannot read {spec!r}: write beam:WIDTH[:ALPHA].")
        return beam(width, max_tokens, alpha)
    values: dict[str, float] = {}
    for part in spec.split("+"):
        key, _, value = part.strip().partition(":")
        field_name = _SAMPLING_KEYS.get(key.strip().lower())
        if field_name is None or not value:
            raise TokenwiseError(
                f"Unknown strategy {spec!r}: use greedy, beam:W, temp:T, top-k:K, top-p:P or "
                "min-p:M (sampling parts combine with '+').")
        try:
            values[field_name] = float(value)
        except ValueError:
            raise TokenwiseError(f"Cannot read the number in {part!r}.") from None
    top_k = values.get("top_k", 0.0)
    if top_k != int(top_k):
        raise TokenwiseError(f"top-k must be a whole number in {spec!r}.")
    return sampling(max_tokens, seed, temperature=values.get("temperature", 1.0),
                    top_k=int(top_k), top_p=values.get("top_p", 1.0),
                    min_p=values.get("min_p", 0.0), name=spec)


def parse_strategies(specs: str, *, max_tokens: int = 64,
                     seed: int | None = None) -> list[Strategy]:
    """Comma-separated strategy names, in order."""
    parts = [p for p in (s.strip() for s in specs.split(",")) if p]
    if not parts:
        raise TokenwiseError("No strategy given: write e.g. greedy,beam:4,top-p:0.9.")
    return [parse_strategy(p, max_tokens=max_tokens, seed=seed) for p in parts]
