"""The progress display of ``compare``: one rich bar over runs (done / total, time left) and, when the runs happen
in this process, one over the current run's epochs."""

from __future__ import annotations

from typing import Any

__all__ = ["Progress"]


class Progress:
    """A rich progress display with one bar over runs and, with one worker, one over the current run's epochs (a
    no-op when off). With several workers (processes or Ray tasks) the run bar advances as runs finish anywhere.

    >>> with Progress(False, total=2, completed=0) as bar:
    ...     bar.start_run("baseline · seed 0 · fold 0", epochs=3)
    ...     bar.finish_run("baseline · seed 0 · fold 0")
    """

    def __init__(self, enabled: bool, total: int, completed: int, workers: int = 1) -> None:
        self.enabled = enabled
        self.total = total
        self.completed = completed
        self.workers = workers
        self.failures = 0
        self._progress: Any = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress
            from rich.progress import TimeRemainingColumn

            self._progress = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                          TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
                                          transient=False)
            self._progress.__enter__()
            self._runs = self._progress.add_task("runs", total=self.total, completed=self.completed)
            self._epochs = self._progress.add_task("epochs", total=1, visible=self.workers == 1)
        return self

    def note(self, text: str) -> None:
        """A line above the bars (e.g. where the runs happen)."""
        if self._progress is not None:
            self._progress.console.print(text)

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start_run(self, description: str, epochs: int) -> None:
        if self._progress is not None:
            self._progress.update(self._runs, description=f"runs: {description}")
            self._progress.reset(self._epochs, total=epochs, description="  epochs")

    def start_refit(self, description: str, epochs: int) -> None:
        """The served model refitted on every row, after the runs: one step, with its epoch bar."""
        if self._progress is not None:
            self._progress.update(self._runs, description=description)
            self._progress.update(self._epochs, visible=True)
            self._progress.reset(self._epochs, total=epochs, description="  epochs")

    def finish_run(self, description: str = "", failed: bool = False) -> None:
        self.failures += bool(failed)
        if self._progress is not None:
            self._progress.advance(self._runs)
            if self.workers > 1:
                state = f"{description} {'FAILED' if failed else 'done'}" if description else ""
                failures = f", {self.failures} failed" if self.failures else ""
                self._progress.update(self._runs, description=f"runs ({self.workers} workers{failures}): {state}")

    def epoch_callback(self) -> Any:
        """A Keras callback that advances the epoch bar."""
        import keras

        progress = self

        class _Epochs(keras.callbacks.Callback):
            def on_train_begin(self, logs: Any = None) -> None:
                if progress._progress is not None:
                    progress._progress.reset(progress._epochs, total=self.params.get("epochs", 1))

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                if progress._progress is not None:
                    progress._progress.advance(progress._epochs)

        return _Epochs()
