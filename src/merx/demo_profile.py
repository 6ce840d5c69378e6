"""`MERX_DEMO_PROFILE=1 merx demo --no-serve`: wall and CPU seconds of each step of the demo
build, printed when it finishes.

The machine the demo is measured on is shared, so wall time alone says little: beside it the
profile gives the process's CPU seconds (user + sys, every thread: the embedding thread runs
beside the main one) and the main thread's, whose sum over the steps is the part of the build
that is single-core Python."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from rich.console import Console


def profile_enabled() -> bool:
    return os.environ.get("MERX_DEMO_PROFILE", "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class StepTimes:
    name: str
    wall: float
    cpu: float  # the process: every thread
    main_cpu: float  # the thread that ran the step


@dataclass
class DemoProfile:
    enabled: bool = field(default_factory=profile_enabled)
    steps: list[StepTimes] = field(default_factory=list)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        wall, cpu, main = time.perf_counter(), time.process_time(), time.thread_time()
        try:
            yield
        finally:
            self.steps.append(StepTimes(name, time.perf_counter() - wall, time.process_time() - cpu,
                                        time.thread_time() - main))

    def report(self, console: Console) -> None:
        if not self.enabled or not self.steps:
            return
        console.print(f"{'step':<28}{'wall s':>9}{'cpu s':>9}{'main s':>9}", markup=False)
        for s in self.steps:
            console.print(f"{s.name:<28}{s.wall:>9.1f}{s.cpu:>9.1f}{s.main_cpu:>9.1f}", markup=False)
        wall = sum(s.wall for s in self.steps)
        cpu = sum(s.cpu for s in self.steps)
        main = sum(s.main_cpu for s in self.steps)
        console.print(f"{'total':<28}{wall:>9.1f}{cpu:>9.1f}{main:>9.1f}  load average {_load()}", markup=False)


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"
