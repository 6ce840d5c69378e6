"""The bounded contexts the app is composed of. A new context adds its name here; its
`models` module is imported for the metadata (migrations), its `api.router` is mounted,
its `handlers.register(bus)` subscribes it to domain events, and its `jobs.register(scheduler)`
adds its timed work to the scheduler."""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

CONTEXTS: tuple[str, ...] = (
    "marketplace",
    "catalog",
    "customers",
    "inventory",
    "pricing",
    "orders",
    "integration",
    "crm",
    "search",
    "analytics",
    "sales",
    "support",
    "marketing",
    "web",
)


def _optional(module: str) -> ModuleType | None:
    try:
        if importlib.util.find_spec(module) is None:
            return None
    except ModuleNotFoundError:
        return None
    return importlib.import_module(module)


def import_models() -> None:
    """Load every context's tables, then wire the hooks: every process (server, CLI, worker,
    migrations, tests) calls this before it touches the database."""
    importlib.import_module("merx.core.models")
    for name in CONTEXTS:
        _optional(f"merx.{name}.models")
    wire_hooks()


def wire_hooks() -> None:
    """Each context's optional `hooks.py` `register()`: what it contributes to a hook a context
    below it declares (a lower context never imports a higher one; see `.importlinter`).
    Registering twice replaces the contribution, so calling this again is harmless."""
    for name in CONTEXTS:
        mod = _optional(f"merx.{name}.hooks")
        if mod is not None:
            mod.register()


def api_modules() -> list[ModuleType]:
    mods = []
    for name in CONTEXTS:
        mod = _optional(f"merx.{name}.api")
        if mod is not None:
            mods.append(mod)
    return mods


def handler_modules() -> list[ModuleType]:
    return [m for m in (_optional(f"merx.{name}.handlers") for name in CONTEXTS) if m is not None]


def job_modules() -> list[ModuleType]:
    """Each context's `jobs.py` (`register(scheduler)`): its timed and recurring work."""
    return [m for m in (_optional(f"merx.{name}.jobs") for name in CONTEXTS) if m is not None]
