"""The machine a benchmark or a study's run ran on, for the line printed (or stored) beside its numbers."""
from __future__ import annotations

import platform
from pathlib import Path


def cpu_model_flags() -> tuple[str, list[str]]:
    """The CPU model and which of the features that change bf16 numerics and speed it has."""
    model, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return model, [f for f in ("amx_bf16", "amx_tile", "avx512_bf16", "avx512f", "avx2") if f in flags]


def cpu_line() -> str:
    model, feats = cpu_model_flags()
    return f"{model}; features: {', '.join(feats) or 'none of amx/avx512/avx2'}"
