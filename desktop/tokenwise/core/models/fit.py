"""Will a model fit? Its weights plus the KV cache at a context length, against free memory.

An estimate, and said to be one: llama.cpp also needs compute buffers that depend on the
batch size and backend. The KV cache is what grows with the context the user picks, and
is the part people underestimate (a 128k context can need more memory than the weights).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from tokenwise.core.formatting import format_size
from tokenwise.core.i18n import _
from tokenwise.core.models.gguf import GGUFInfo

KV_BYTES_PER_VALUE = 2  # f16 cache, llama.cpp's default
OVERHEAD_BYTES = 150_000_000  # compute buffers, the output logits, the runtime


@dataclass(frozen=True, slots=True)
class MemoryEstimate:
    n_ctx: int
    model_bytes: int
    kv_bytes: int
    overhead_bytes: int
    free_ram: int | None
    free_vram: int | None

    @property
    def total(self) -> int:
        return self.model_bytes + self.kv_bytes + self.overhead_bytes

    @property
    def fits_ram(self) -> bool | None:
        return None if self.free_ram is None else self.total <= self.free_ram

    @property
    def fits_vram(self) -> bool | None:
        return None if self.free_vram is None else self.total <= self.free_vram

    def summary(self) -> str:
        need = _("needs about {total} at {n_ctx} tokens of context ({weights} weights + {kv} "
                 "KV cache)").format(total=format_size(self.total), n_ctx=f"{self.n_ctx:,}",
                                     weights=format_size(self.model_bytes),
                                     kv=format_size(self.kv_bytes))
        parts = [need]
        if self.free_vram is not None:
            verdict = (_("fits in the GPU's {free} free") if self.fits_vram
                       else _("does not fit in the GPU's {free} free"))
            parts.append(verdict.format(free=format_size(self.free_vram)))
        if self.free_ram is not None:
            verdict = (_("fits in {free} of free RAM") if self.fits_ram
                       else _("does not fit in {free} of free RAM"))
            parts.append(verdict.format(free=format_size(self.free_ram)))
        return _("; ").join(parts) + _(".")


def _arch_value(info: GGUFInfo, key: str) -> object:
    return info.metadata.get(f"{info.architecture}.{key}")


def kv_cache_bytes(info: GGUFInfo, n_ctx: int) -> int:
    """Keys and values for every layer at ``n_ctx`` positions."""
    heads = _arch_value(info, "attention.head_count")
    kv_heads = _arch_value(info, "attention.head_count_kv")
    embedding = _arch_value(info, "embedding_length")
    layers = info.layers or 0

    def per_layer(value: object, default: int) -> list[int]:
        if isinstance(value, list):
            return [int(v) for v in value][:layers] or [default] * layers
        if isinstance(value, int) and not isinstance(value, bool):
            return [value] * layers
        return [default] * layers

    head_list = per_layer(heads, 1)
    kv_list = per_layer(kv_heads, 0)
    total_values = 0
    for layer in range(layers):
        n_head = head_list[layer] or 1
        n_kv = kv_list[layer] or n_head
        key_len = _arch_value(info, "attention.key_length")
        value_len = _arch_value(info, "attention.value_length")
        default_dim = int(embedding) // n_head if isinstance(embedding, int) else 128
        k_dim = int(key_len) if isinstance(key_len, int) else default_dim
        v_dim = int(value_len) if isinstance(value_len, int) else default_dim
        total_values += n_kv * (k_dim + v_dim)
    return total_values * n_ctx * KV_BYTES_PER_VALUE


def free_ram_bytes() -> int | None:
    """Memory available to a new process, or None where it cannot be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if sys.platform == "win32":
        import ctypes

        class MemoryStatus(ctypes.Structure):
            _fields_ = [("dwLength", ctypes.c_ulong), ("dwMemoryLoad", ctypes.c_ulong),
                        ("ullTotalPhys", ctypes.c_ulonglong), ("ullAvailPhys", ctypes.c_ulonglong),
                        ("ullTotalPageFile", ctypes.c_ulonglong),
                        ("ullAvailPageFile", ctypes.c_ulonglong),
                        ("ullTotalVirtual", ctypes.c_ulonglong),
                        ("ullAvailVirtual", ctypes.c_ulonglong),
                        ("ullAvailExtendedVirtual", ctypes.c_ulonglong)]

        status = MemoryStatus()
        status.dwLength = ctypes.sizeof(MemoryStatus)
        if ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status)):  # type: ignore[attr-defined]
            return int(status.ullAvailPhys)
        return None
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def free_vram_bytes() -> int | None:
    """Free memory of the first NVIDIA GPU via nvidia-smi; None without one."""
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        out = subprocess.run(
            [tool, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=3, check=True,
        ).stdout
        return int(out.split()[0]) * 1024 * 1024
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def estimate_memory(info: GGUFInfo, n_ctx: int | None = None, *, probe_gpu: bool = True
                    ) -> MemoryEstimate:
    ctx = n_ctx or min(info.context_length or 4096, 4096)
    return MemoryEstimate(
        n_ctx=ctx,
        model_bytes=info.data_end - info.data_offset,
        kv_bytes=kv_cache_bytes(info, ctx),
        overhead_bytes=OVERHEAD_BYTES,
        free_ram=free_ram_bytes(),
        free_vram=free_vram_bytes() if probe_gpu else None,
    )
