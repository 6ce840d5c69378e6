"""The bounded contexts the app is composed of. A new context adds its name here; its
`models` module is imported for the metadata (migrations), its `api.router` is mounted, its
`handlers.register(bus)` subscribes it to domain events and its `lifecycle.PARTICIPANT`
takes part in customer merges, erasure and export; its `jobs.register(scheduler)`
adds its timed work to the scheduler.

Every listed context must exist: a missing package is an ImportError at start-up, never a
silently smaller app. Within a context, `api`, `handlers`, `cli`, `jobs` and `lifecycle` are
optional (a context may have no routes or no reactions); `models` is optional too (`web`
has no tables). A module that exists but fails to import raises."""

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
    "payments",
    "fiscal",
    "orders",
    "invoicing",
    "integration",
    "crm",
    "support",
    "search",
    "analytics",
    "sellers",
    "instore",
    "marketing",
    "sales",
    "web",
)


def context_package(name: str) -> ModuleType:
    """The context's package; ImportError naming the context when it is listed but missing."""
    try:
        return importlib.import_module(f"merx.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"merx.{name}":
            raise ImportError(f"context {name!r} is listed in merx.contexts.CONTEXTS but the package "
                              f"merx.{name} does not exist", name=e.name) from e
        raise


def optional_module(context: str, module: str) -> ModuleType | None:
    """`merx.<context>.<module>` when the context has that module, else None. The context
    itself must exist (ImportError otherwise)."""
    package = context_package(context)
    if importlib.util.find_spec(f"{package.__name__}.{module}") is None:
        return None
    return importlib.import_module(f"{package.__name__}.{module}")


def _modules(module: str) -> list[ModuleType]:
    return [m for m in (optional_module(name, module) for name in CONTEXTS) if m is not None]


def import_models() -> None:
    """Load every context's tables, then wire the hooks: every process (server, CLI, worker,
    migrations, tests) calls this before it touches the database."""
    from sqlalchemy.orm import configure_mappers

    importlib.import_module("merx.core.models")
    _modules("models")
    # Configure the mappers now, in this thread: a background thread (the scheduler, the
    # subscriber runner) that configured them while another thread was still importing a
    # models module would fail half-way, and SQLAlchemy keeps that failure for the process.
    configure_mappers()
    wire_hooks()


def wire_hooks() -> None:
    """Each context's optional `hooks.py` `register()`: what it contributes to a hook a context
    below it declares (a lower context never imports a higher one; see `.importlinter`).
    Registering twice replaces the contribution, so calling this again is harmless."""
    for mod in _modules("hooks"):
        mod.register()


def api_modules() -> list[ModuleType]:
    return _modules("api")


def handler_modules() -> list[ModuleType]:
    return _modules("handlers")


def lifecycle_modules() -> list[ModuleType]:
    return _modules("lifecycle")


def event_modules() -> list[ModuleType]:
    """Each context's `events.py`: importing it declares (registers) its event classes."""
    return _modules("events")


def job_modules() -> list[ModuleType]:
    """Each context's `jobs.py` (`register(scheduler)`): its timed and recurring work."""
    return _modules("jobs")
