"""The progress display of ``compare``: one rich bar over runs and one over the current run's epochs."""

from __future__ import annotations

from typing import Any

__all__ = ["Progress"]


class Progress:
    """A rich progress display with one bar over runs and one over the current run's epochs (a no-op when off).

    >>> with Progress(False, total=2, completed=0) as bar:
    ...     bar.start_run("baseline · seed 0 · fold 0", epochs=3)
    ...     bar.finish_run()
    """

    def __init__(self, enabled: bool, total: int, completed: int) -> None:
        self.enabled = enabled
        self.total = total
        self.completed = completed
        self._progress: Any = None

    def __enter__(self) -> "Progress":
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                          TimeElapsedColumn(), transient=False)
            self._progress.__enter__()
            self._runs = self._progress.add_task("runs", total=self.total, completed=self.completed)
            self._epochs = self._progress.add_task("epochs", total=1)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def start_run(self, description: str, epochs: int) -> None:
        if self._progress is not None:
            self._progress.update(self._runs, description=f"runs: {description}")
            self._progress.reset(self._epochs, total=epochs, description="  epochs")

    def finish_run(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._runs)

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
