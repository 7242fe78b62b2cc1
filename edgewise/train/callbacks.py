"""The per-epoch bookkeeping callback of :mod:`edgewise.train.loop` (imports Keras, so loaded lazily)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict
from pathlib import Path

import keras

from edgewise.runtime import atomic
from edgewise.train.loop import BEST_FILE, MONITOR, STATE_FILE, Plan, State

log = logging.getLogger("edgewise.train.loop")


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: record the history, save the checkpoint and the state, track the best
    model and stop early when the validation loss stalls for ``plan.patience`` epochs."""

    def __init__(self, directory: Path, state: State, plan: Plan, writer: bool, phase_end: int):
        super().__init__()
        self.directory, self.state, self.plan, self.writer = directory, state, plan, writer
        self.phase_end = phase_end
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        logs["lr"] = float(self.model.optimizer.learning_rate)
        logs["epoch_seconds"] = time.perf_counter() - self._started
        st = self.state
        st.epoch = epoch + 1
        st.seconds += logs["epoch_seconds"]
        for key, value in logs.items():
            st.history.setdefault(key, []).append(float(value))
        score = float(logs.get(MONITOR, math.inf))
        improved = score < st.best
        if improved:
            st.best, st.best_epoch, st.wait = score, st.epoch, 0
        else:
            st.wait += 1
        previous = st.checkpoint
        st.checkpoint = f"epoch-{st.epoch:04d}.keras"
        if self.writer:
            self._save(self.directory / st.checkpoint)
            if improved:
                self._save(self.directory / BEST_FILE)
        if st.wait >= self.plan.patience and st.epoch < self.phase_end:
            log.info("early stopping: no %s improvement for %d epochs", MONITOR, st.wait)
            st.stopped_early = True
            self.model.stop_training = True
        if self.writer:
            atomic.write_json(self.directory / STATE_FILE, asdict(st))
            if previous and previous != st.checkpoint:
                (self.directory / previous).unlink(missing_ok=True)

    def _save(self, path: Path) -> None:
        with atomic.atomic_path(path) as tmp:
            self.model.save(tmp)
