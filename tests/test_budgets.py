"""A server's training budget (memory and time, checked before a run starts, a time limit while it runs) and how
long finished jobs are kept. The app trains through TrainingJob; the CLI has no budget."""

import itertools
import resource

import pytest
import torch

from aecore import VARIANTS, budget, build, checkpoint, jobs, storage
from aecore.budget import Budget, BudgetExceeded
from aecore.config import ConfigError
from aecore.training import PRESETS, preset


@pytest.fixture
def server(tmp_path, monkeypatch):
    """An empty models folder and cache, the bundled sample as data, and a job board of its own."""
    for name in ("AECORE_MODELS_DIR", "AECORE_CACHE_DIR", "AECORE_DATA_DIR"):
        (tmp_path / name).mkdir()
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.setenv("AECORE_OFFLINE", "1")
    for name in (budget.ENV_MB, budget.ENV_MINUTES):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(jobs, "BOARD", jobs.JobBoard())
    return storage.user_models_dir()


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_run_needing_gigabytes_per_step_is_refused_before_anything_trains(server):
    before = max_rss_mb()
    with pytest.raises(BudgetExceeded) as e:
        jobs.TrainingJob("vq_vae", {"codebook_size": 4096, "channels": 256}, {"batch_size": 8192}, server)
    message = str(e.value)
    assert isinstance(e.value, ConfigError) and "\n" not in message
    assert "MB of memory" in message and "1,500 MB" in message and "AECORE_TRAIN_MAX_MB" in message
    assert float(message.split("about ")[1].split(" MB")[0].replace(",", "")) > 4000  # the estimate, stated
    assert max_rss_mb() - before < 1000  # estimated at batches of 2 and 4: no step of 8,192 was taken
    assert not jobs.BOARD.running() and not list(server.iterdir())


def test_a_run_of_days_is_refused_before_anything_trains(server):
    with pytest.raises(BudgetExceeded) as e:
        jobs.TrainingJob("dense", {}, {"epochs": 500, "batch_size": 1}, server)
    message = str(e.value)
    assert "at least" in message and "30,000,000 steps" in message  # counted, so a busy server cannot sway it
    assert "30 min" in message and "AECORE_TRAIN_MAX_MINUTES" in message
    assert "max_seconds to 1800 or less" in message  # and what to change
    assert not jobs.BOARD.running() and not list(server.iterdir())


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_preset_of_every_variant_fits_the_default_budget(variant):
    for name in PRESETS:
        model_cfg, cfg = preset(VARIANTS[variant], name, device="cpu")
        estimate = budget.check(build(variant, model_cfg), cfg, Budget())
        assert estimate.peak_mb < 1500 and estimate.min_seconds < 30 * 60


def test_the_timed_estimate_is_there_to_show():
    est = budget.estimate(build("dense"), preset(VARIANTS["dense"], device="cpu")[1], timed=True)
    assert est.seconds > 0 and est.min_seconds > 0
    assert "MB of memory, at least" in est.describe() and "here)" in est.describe()


def test_the_memory_estimate_follows_the_batch_and_the_model():
    small = budget.peak_memory_mb(build("vq_vae"), 128)
    assert budget.peak_memory_mb(build("vq_vae"), 1024) > 2 * small
    # The (batch x 49, codebook) distance matrix alone is 8192 * 49 * 4096 * 4 bytes: 6,272 MB.
    assert budget.peak_memory_mb(build("vq_vae", {"codebook_size": 4096}), 8192) > 6272


def test_the_limits_come_from_the_environment(server, monkeypatch):
    assert Budget.from_env() == Budget(1500.0, 30.0)
    monkeypatch.setenv(budget.ENV_MB, "100")
    monkeypatch.setenv(budget.ENV_MINUTES, "0")  # no time limit
    assert Budget.from_env() == Budget(100.0, 0.0)
    with pytest.raises(BudgetExceeded, match="100 MB"):
        jobs.TrainingJob("vq_vae", {"codebook_size": 4096}, {}, server)
    monkeypatch.setenv(budget.ENV_MB, "0")  # no limits at all
    job = jobs.TrainingJob("vq_vae", {"codebook_size": 4096, "channels": 256}, {"batch_size": 8192}, server)
    assert job.status == jobs.PENDING
    for bad in ("lots", "-5", "nan"):
        monkeypatch.setenv(budget.ENV_MINUTES, bad)
        with pytest.raises(ConfigError, match="AECORE_TRAIN_MAX_MINUTES"):
            jobs.TrainingJob("dense", {}, {}, server)


def test_a_run_past_its_time_stops_and_saves_saying_why(server):
    clock = itertools.count(0.0, 7.0).__next__  # every look at the clock: 7 s later
    job = jobs.TrainingJob("dense", {}, {"epochs": 50, "train_size": 2000, "batch_size": 16}, server,
                           budget=Budget(max_minutes=1.0), clock=clock)
    assert job.start().join(120)
    snap = job.snapshot()
    assert snap["status"] == jobs.STOPPED and snap["time_limit_reached"], snap["message"]
    assert "limit of 60 s per run ($AECORE_TRAIN_MAX_MINUTES)" in snap["message"]
    assert 0 < snap["step"] < snap["total_steps"]
    _, meta = checkpoint.load(snap["path"])
    assert meta["metrics"]["stopped_early"] is True


def test_the_cli_has_no_budget(tmp_path, offline_env, monkeypatch):
    from aecore.cli import main

    monkeypatch.setenv(budget.ENV_MB, "1")
    monkeypatch.setenv(budget.ENV_MINUTES, "0.0001")
    out = tmp_path / "dense.safetensors"
    assert main(["train", "dense", "--epochs", "2", "--train-size", "300", "--batch-size", "8192",
                 "--fast-eval", "--quiet", "--out", str(out)]) in (0, None)
    _, meta = checkpoint.load(out)
    assert len(meta["history"]["epochs"]) == 2 and not meta["history"]["out_of_time"]


def test_same_seed_same_job(server):
    """The app's jobs build their model from the run's seed, as the CLI does: same settings, same weights."""
    weights = []
    for _ in range(2):
        job = jobs.TrainingJob("vae", {"hidden1": 64, "hidden2": 32}, {"epochs": 1, "train_size": 300, "seed": 4},
                               server, record_evolution=False).start()
        assert job.join(120) and job.status == jobs.DONE
        weights.append(checkpoint.load(job.snapshot()["path"])[0].state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


class FakeJob:
    """What the board reads of a job: whether and when it ended, and whether its model is saved."""

    def __init__(self, name, clock):
        self.id, self.variant, self.created, self.ended, self.clock = name, "dense", clock(), None, clock
        self.unsaved = None

    def start(self):
        return self

    @property
    def finished(self):
        return self.ended is not None

    def end(self, saved=True):
        self.ended, self.unsaved = self.clock(), None if saved else b"checkpoint"

    def checkpoint_bytes(self):
        return self.unsaved


def test_finished_jobs_are_forgotten_after_a_while_and_beyond_a_few():
    now = [0.0]
    board = jobs.JobBoard(limit=10, keep_minutes=30, keep_finished=2, keep_unsaved=1, clock=lambda: now[0])
    made = {n: board.start(FakeJob(n, board._clock)) for n in "abcdef"}
    made["a"].end()
    now[0] += 29 * 60
    assert board.get("a") is made["a"]  # 29 minutes after it ended
    now[0] += 2 * 60
    assert board.get("a") is None  # 31 minutes
    for n in "bcd":
        made[n].end()
        now[0] += 1
    assert [board.get(n) for n in "bcd"] == [None, made["c"], made["d"]]  # the newest two finished ones
    made["e"].end(saved=False)
    now[0] += 3 * 60 * 60
    assert board.get("e") is made["e"]  # its save failed: kept (to retry or download) however long
    assert board.get("f") is made["f"]  # running: always kept
    made["f"].end(saved=False)
    assert board.get("e") is None and board.get("f") is made["f"]  # but only the newest unsaved one
    made["f"].unsaved = None  # saved at last (retry_save): now it ages like any other
    now[0] += 31 * 60
    assert board.get("f") is None


def test_a_finished_job_leaves_the_board(server):
    now = [0.0]
    board = jobs.JobBoard(keep_minutes=30, clock=lambda: now[0])
    job = board.start(jobs.TrainingJob("dense", {}, {"epochs": 1, "train_size": 200}, server,
                                       record_evolution=False, clock=lambda: now[0]))
    assert job.join(120) and board.get(job.id) is job
    now[0] += 31 * 60
    assert board.get(job.id) is None and not board.running()
