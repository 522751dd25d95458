"""Background training: a thread, a stop Event and a thread-safe progress log that a UI can poll.

    job = TrainingJob("dense", {"latent_dim": 32}, {"epochs": 2}, folder)  # ConfigError here if settings are bad
    job.start()
    job.snapshot()   # copy of the state, safe to read from any thread at any time
    job.stop()       # ends after the current step; the model trained so far is saved

A finished (or stopped) run is saved atomically into ``folder``; a diverged run saves nothing. A run
whose save fails (full disk, read-only folder) keeps its checkpoint in memory: ``retry_save()`` or
``checkpoint_bytes()`` (to download it) lose nothing.

Jobs outlive a browser session: :data:`BOARD` holds every job of the process (one server), so a reloaded
tab or a second one re-attaches to a running job, anyone can stop it, and a limit on concurrent jobs
(``$AECORE_MAX_JOBS``, default 1) refuses further starts with a message instead of slowing everyone.
The training thread runs at a lower CPU priority, so interactive pages stay quick while it trains.

Each run is held to the server's :class:`~aecore.budget.Budget`: one estimated over it is refused when the job is
made (:class:`~aecore.budget.BudgetExceeded`, a ConfigError); one that overruns its time stops and saves like Stop,
saying why. Finished jobs, with their model, preview and frames, leave the board after a while (see JobBoard).
"""

from __future__ import annotations

import copy
import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import torch

from aecore import binarize, data, evolution
from aecore.budget import ENV_MINUTES, Budget, check, duration
from aecore.config import to_dict
from aecore.cpu import lower_priority
from aecore.errors import UserError
from aecore.models import build, get_variant
from aecore.pipeline import fit_and_pack
from aecore.training import Progress, TrainConfig, config_for

PENDING, RUNNING, DONE, STOPPED, FAILED = "pending", "running", "done", "stopped", "failed"
FINISHED = (DONE, STOPPED, FAILED)


class TrainingJob:
    """One training run in a daemon thread. All shared state is guarded by ``_lock``."""

    def __init__(self, variant: str, model_config: dict | None, train_config: dict | None, folder: str | Path,
                 data_dir: str | Path | None = None, preview_n: int = 10, eval_size: int = 2000,
                 report_every: int = 10, record_evolution: bool = True, budget: Budget | None = None,
                 clock=time.monotonic):
        cls = get_variant(variant)
        self.variant = variant
        # The fastest device here (a GPU when there is one, as the Train page says), whatever a config asks.
        overrides = {k: v for k, v in (train_config or {}).items() if k != "device"}
        self.train_config: TrainConfig = config_for(cls, device="auto", **overrides)
        self.model = build(variant, model_config, seed=self.train_config.seed)  # ConfigError: bad hyperparameters
        self.budget = budget or Budget.from_env()
        self.estimate = check(self.model, self.train_config, self.budget)  # BudgetExceeded: refused before it runs
        self._clock = clock  # monotonic seconds: the time limit, and when the job ended (JobBoard evicts by it)
        self.ended: float | None = None
        self.folder = Path(folder)
        self.data_dir = data_dir
        self.preview_n = preview_n
        self.eval_size = eval_size
        self.report_every = report_every
        self.record_evolution = record_evolution  # a map of 1,000 test digits per epoch (aecore.evolution)
        self.id = uuid.uuid4().hex[:12]
        self.created = time.time()
        self._checkpoint: bytes | None = None  # kept until saved, so a failed save loses nothing
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._state = {"status": PENDING, "message": "waiting to start", "fraction": 0.0, "epoch": 0,
                       "step": 0, "total_steps": 0, "steps": [], "epochs": [], "preview": None,
                       "originals": None, "path": None, "metrics": {}, "seconds": 0.0, "started": None,
                       "data_source": None, "save_error": None, "nice": None,
                       "warning": None, "evolution": None, "warmup": None, "warmup_end": None,
                       "time_limit_reached": False}

    # -- control ------------------------------------------------------------------------------
    def start(self) -> TrainingJob:
        if self._thread is not None:
            raise RuntimeError("this job has already been started")
        self._update(status=RUNNING, message="loading data", started=time.time())
        self._thread = threading.Thread(target=self._run, name=f"train-{self.variant}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the run to end after the current step; the model so far is kept and saved."""
        self._stop.set()
        with self._lock:
            if self._state["status"] == RUNNING:
                self._state["message"] = "stopping after the current step"

    def join(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.finished

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def status(self) -> str:
        with self._lock:
            return self._state["status"]

    def snapshot(self) -> dict:
        """A deep copy of the state: status, message, fraction, steps, epochs, preview, path, metrics."""
        with self._lock:
            return copy.deepcopy(self._state)

    # -- worker -------------------------------------------------------------------------------
    def _update(self, **kw) -> None:
        with self._lock:
            self._state.update(kw)

    @torch.no_grad()
    def _preview(self, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
        from aecore.metrics import reconstruct_all  # on the model's device, returned on the CPU

        was = self.model.training
        try:
            return reconstruct_all(self.model, x, y).numpy()
        finally:
            self.model.train(was)

    def retry_save(self) -> str | None:
        """Write the trained model into the folder; returns the path, or None with ``save_error`` set."""
        if self._checkpoint is None:
            return self.snapshot()["path"]
        from aecore.catalog import ModelsFolderError, save_trained

        try:  # within the folder's quota, under a name no other save can take
            path = str(save_trained(self._checkpoint, self.variant, self.folder))
        except ModelsFolderError as e:
            self._update(save_error=str(e))
            return None
        self._checkpoint = None
        with self._lock:
            self._state.update(path=path, save_error=None)
            self._state["message"] = self._state["message"].split("; saved as")[0] + f"; saved as {Path(path).name}"
        return path

    def checkpoint_bytes(self) -> bytes | None:
        """The trained model as checkpoint bytes while it is not saved (to offer as a download)."""
        return self._checkpoint

    def _over_time(self, since: float) -> bool:
        """Polled every step: past the budget's time, the run stops after this step, as if Stop were pressed."""
        limit = self.budget.max_minutes * 60
        if limit and not self._stop.is_set() and self._clock() - since > limit:
            self._update(time_limit_reached=True)
            self._stop.set()
        return self._stop.is_set()

    def _run(self) -> None:
        try:
            self._train()
        finally:
            self.ended = self._clock()

    def _train(self) -> None:
        cfg = self.train_config
        t0, since = time.perf_counter(), self._clock()
        self._update(nice=lower_priority())
        try:
            train_data = data.load(cfg.dataset, "train", self.data_dir)
            test = binarize.protocol(data.load(cfg.dataset, "test", self.data_dir), cfg.binarize)  # as it trains
            val = test.subset(min(len(test), self.eval_size), seed=1)
            px, py = val.images[: self.preview_n], val.labels[: self.preview_n]
            self._update(originals=px.numpy(), message=f"training on {train_data.source}",
                         data_source=train_data.source, warmup=self.model.objective_warmup())  # curves shade it
            recorder = evolution.Recorder(self.model, test) if self.record_evolution else None
            if recorder:
                self._update(evolution=recorder.evolution())

            def on_progress(p: Progress) -> None:
                with self._lock:
                    st = self._state
                    st.update(fraction=p.fraction, epoch=p.epoch, step=p.step, total_steps=p.total_steps,
                              seconds=time.perf_counter() - t0)
                    if st["warmup"] and st["warmup_end"] is None and p.fraction >= st["warmup"][0]:
                        st["warmup_end"] = p.step
                    if p.kind == "step":
                        st["steps"].append({"step": p.step, **p.train})
                    else:
                        st["epochs"].append({"epoch": p.epoch, "step": p.step, "train": dict(p.train),
                                             "val": dict(p.val or {})})
                preview = self._preview(px, py)  # outside the lock: the UI never waits on the model
                self._update(preview=preview)
                if recorder and p.kind == "epoch":
                    recorder.add(p.model)
                    self._update(evolution=recorder.evolution())

            n = min(len(train_data), cfg.train_size or len(train_data))
            total = cfg.epochs * -(-n // cfg.batch_size)
            every = max(self.report_every, total // 1000)  # at most ~1,000 points on the live curves
            def measure(model) -> dict:
                self._update(message="measuring the model on the test split", preview=self._preview(px, py))
                from aecore.metrics import evaluate

                return evaluate(model, val)

            made = fit_and_pack(self.model, train_data, val, cfg, measure, recorder=recorder, on_progress=on_progress,
                                should_stop=lambda: self._over_time(since), report_every=every)
            result, metrics, self._checkpoint = made.result, made.metrics, made.checkpoint
            how = "stopped early" if result.stopped_early else "finished"
            if self.snapshot()["time_limit_reached"]:
                how = f"stopped at the limit of {duration(self.budget.max_minutes * 60)} per run (${ENV_MINUTES})"
            from aecore.catalog import pretrained_reference
            from aecore.compare import quality_warning

            warning = quality_warning(self.variant, metrics, to_dict(cfg), pretrained_reference(self.variant))
            self._update(metrics=metrics, message=f"{how} after {result.seconds:.1f} s", warning=warning)
            self.retry_save()  # before the status changes, so a finished job already says where it is saved
            status = STOPPED if result.stopped_early else DONE
            self._update(status=status, fraction=1.0 if status == DONE else self._state["fraction"],
                         seconds=time.perf_counter() - t0)
        except UserError as e:  # a diverged run, a bad setting, missing data: said in one line
            self._update(status=FAILED, message=str(e), seconds=time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001 - the UI shows one line, never a traceback
            self._update(status=FAILED, message=f"training failed: {type(e).__name__}: {str(e)[:200]}",
                         seconds=time.perf_counter() - t0)


class JobLimitReached(UserError, RuntimeError):
    """Starting another job would exceed the server's limit; the message says what is running."""


class JobBoard:
    """Every training job of this process, shared by all browser sessions of a server. Thread-safe."""

    def __init__(self, limit: int | None = None, keep_minutes: float = 30.0, keep_finished: int = 5,
                 keep_unsaved: int = 3, clock=time.monotonic):
        self._lock = threading.Lock()
        self._jobs: dict[str, TrainingJob] = {}
        self._limit = limit
        self.keep_minutes, self.keep_finished, self.keep_unsaved = keep_minutes, keep_finished, keep_unsaved
        self._clock = clock  # the jobs' clock: they say when they ended by it

    @property
    def limit(self) -> int:
        if self._limit is not None:
            return self._limit
        try:
            return max(1, int(os.environ.get("AECORE_MAX_JOBS", "1")))
        except ValueError:
            return 1

    def _evict(self) -> None:
        """Forget finished jobs (under the lock): saved or failed ones ``keep_minutes`` after they ended or beyond
        the newest ``keep_finished``; unsaved ones (their save failed: the model exists only here) only beyond the
        newest ``keep_unsaved``."""
        now = self._clock()
        ended = sorted((j for j in self._jobs.values() if j.ended is not None), key=lambda j: -j.ended)
        unsaved = [j for j in ended if j.checkpoint_bytes() is not None]
        done = [j for j in ended if j.checkpoint_bytes() is None]
        old = [j for j in done if now - j.ended > self.keep_minutes * 60]
        for job in old + done[self.keep_finished:] + unsaved[self.keep_unsaved:]:
            self._jobs.pop(job.id, None)

    def start(self, job: TrainingJob) -> TrainingJob:
        """Start ``job`` unless the limit is reached (then JobLimitReached, and nothing starts)."""
        with self._lock:
            self._evict()
            running = [j for j in self._jobs.values() if not j.finished]
            if len(running) >= self.limit:
                what = ", ".join(f"{j.variant} (started {time.strftime('%H:%M', time.localtime(j.created))})"
                                 for j in running)
                raise JobLimitReached(f"this server trains {self.limit} model(s) at a time and {what} is running: "
                                      "wait for it to finish, or stop it")
            self._jobs[job.id] = job.start()
        return job

    def get(self, job_id: str | None) -> TrainingJob | None:
        """The job, or None if there is none by that id (any more: finished jobs are forgotten after a while)."""
        with self._lock:
            self._evict()
            return self._jobs.get(job_id) if job_id else None

    def running(self) -> list[TrainingJob]:
        """Jobs not finished yet, newest first."""
        with self._lock:
            self._evict()
            return sorted((j for j in self._jobs.values() if not j.finished), key=lambda j: -j.created)


BOARD = JobBoard()
