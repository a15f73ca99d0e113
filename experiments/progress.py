"""What a run shows while it works: `Progress` (callbacks, shows nothing) and `RichProgress` (two bars)."""

from __future__ import annotations

from typing import Any

from experiments.results import ResultRow

__all__ = ["Progress", "RichProgress"]


class Progress:
    """Progress callbacks of a run; the base class shows nothing.  `RichProgress` draws bars."""

    def start_run(self, total: int, label: str) -> None: ...
    def start_theorem(self, name: str, budget: int) -> None: ...
    def expansion(self, n: int) -> None: ...
    def end_theorem(self, row: ResultRow) -> None: ...
    def end_run(self) -> None: ...


class RichProgress(Progress):
    """Two rich progress bars: the run (theorems) and the current theorem (expansions out of its budget)."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as _P

        self.console = console or Console(stderr=True)
        self._p = _P(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                     console=self.console, transient=False)
        self._run = None
        self._thm = None
        self._proved = 0
        self._done = 0
        self._label = ""

    def start_run(self, total: int, label: str) -> None:
        self._label = label
        self._p.start()
        self._run = self._p.add_task(f"{label}: 0 proved", total=total)

    def start_theorem(self, name: str, budget: int) -> None:
        if self._thm is not None:
            self._p.remove_task(self._thm)
        self._thm = self._p.add_task(f"  {name}", total=budget)

    def expansion(self, n: int) -> None:
        if self._thm is not None:
            self._p.update(self._thm, completed=n)

    def end_theorem(self, row: ResultRow) -> None:
        self._done += 1
        self._proved += row.proved
        mark = "[green]proved[/]" if row.proved else f"[yellow]{row.status}[/]"
        check = "" if row.recheck in ("none", "skipped") else f", re-check {row.recheck}"
        self._p.console.print(f"{row.backend:>11} {row.theorem:<28} {mark} in {row.wall_s:.2f} s, "
                              f"{row.expansions} expansions{check}", highlight=False, soft_wrap=True)
        if self._run is not None:
            self._p.update(self._run, advance=1, description=f"{self._label}: {self._proved} proved")

    def end_run(self) -> None:
        if self._thm is not None:
            self._p.remove_task(self._thm)
            self._thm = None
        self._p.stop()
