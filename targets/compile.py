"""Compile for a chip named in the options: look the target up, run the compiler's pipeline, build the config.

This is the entry the API, the CLI, the runtime and the tests use; ``snnc.compiler.pipeline.run_pipeline`` itself
takes the target as a value and knows nothing of chip names or configuration files.
"""
from __future__ import annotations

from pathlib import Path

from ..compiler import pipeline as _pipeline
from ..compiler.pipeline import CompileOptions, CompileResult, DoesNotFit
from .speck import DEFAULT_TARGET, Target, get_target


def resolve_target(target) -> Target:
    """A ``Target`` as it is, or one looked up by name or device alias (None: the default target)."""
    if isinstance(target, Target):
        return target
    return get_target(DEFAULT_TARGET if target is None else target)


def run_pipeline(model, options: CompileOptions | None = None, until: str = "assign") -> CompileResult:
    """Run the pipeline for the target named by ``options.target`` (see ``snnc.compiler.pipeline.run_pipeline``)."""
    options = options or CompileOptions()
    return _pipeline.run_pipeline(model, resolve_target(options.target), options, until=until)


def compile_model(model, options: CompileOptions | None = None, output: str | Path | None = None) -> dict:
    """Compile to a configuration dict; write it atomically to ``output`` when given.  Raises DoesNotFit (exit 1)."""
    from .config import build_and_write_config, build_config

    result = run_pipeline(model, options, until="quantize")
    if not result.fits:
        raise DoesNotFit(result)
    if output is not None:
        return build_and_write_config(result, output)
    return build_config(result)


__all__ = ["CompileOptions", "CompileResult", "DoesNotFit", "resolve_target", "run_pipeline", "compile_model"]
