"""The ablation (week6_optimizations/ablation): the equal-time plan from a fake clock, every
variant as a valid config, --only, the table's arithmetic on made-up run folders, the resumable
skip, and one real quick ablation of two variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import week2_tokenizer  # noqa: F401 - registers the tokenizer section
import week4_training.config  # noqa: F401 - registers the train section
from shared.config import load_config, parse_override
from shared.errors import EXIT_INTERRUPTED, CourseError, run_cli
from shared.paths import CONFIGS_DIR
from week4_training.cli import TRAIN_SECTIONS
from week4_training.config import TrainConfig
from week6_optimizations.ablation import cli
from week6_optimizations.ablation.budget import (
    Plan,
    PlannedVariant,
    StepTime,
    load_plan,
    plan_variant,
    save_plan,
    schedule_overrides,
    steps_in_budget,
)
from week6_optimizations.ablation.calibrate import CalibrationSettings, seconds_per_step
from week6_optimizations.ablation.launch import (
    PROCESS_FILE,
    RunState,
    run_specs,
    run_state,
    train_all,
)
from week6_optimizations.ablation.quick import QUICK_OVERRIDES
from week6_optimizations.ablation.results import (
    markdown,
    off_budget,
    seconds_at,
    summarize,
    table_rows,
    training_points,
)
from week6_optimizations.ablation.variants import (
    VARIANTS,
    Variant,
    check_variant,
    select_variants,
)

TINY = str(CONFIGS_DIR / "tiny.yaml")
TASKS_OF_A_RUN = ("4.1", "4.2", "4.3", "4.4", "4.5", "4.6")  # a run passes through all six
ROPE_TASKS = ("6.1", "6.2")  # a rope model rotates (6.1) in its attention (6.2)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Caches in the test's folder (the training processes inherit it), one thread each."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path


# ----------------------------------------------------------------------------- the plan


class FakeMachine:
    """A clock that moves only when a fake step runs, by that variant's step time."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.now = 0.0
        self.seconds = seconds
        self.steps = dict.fromkeys(seconds, 0)

    def clock(self) -> float:
        return self.now

    def stepper(self, name: str):
        def step() -> None:
            self.now += self.seconds[name]
            self.steps[name] += 1

        return step


def test_max_iters_and_the_schedule_follow_the_measured_step_time():
    machine = FakeMachine({"fast": 0.125, "slow": 0.5})
    settings = CalibrationSettings(warmup_steps=3, steps=4, rounds=2)
    steppers = {name: machine.stepper(name) for name in machine.seconds}
    per_round = seconds_per_step(steppers, settings, clock=machine.clock)
    assert per_round == {"fast": [0.125, 0.125], "slow": [0.5, 0.5]}
    assert machine.steps == {"fast": 3 + 2 * 4, "slow": 3 + 2 * 4}  # warm-up steps: untimed
    budget = 60.0
    fast = plan_variant(Variant("fast", (), ""), StepTime(0.125, (0.125,), 10), budget)
    slow = plan_variant(Variant("slow", (), ""), StepTime(0.5, (0.5,), 10), budget)
    assert (fast.max_iters, slow.max_iters) == (480, 120)  # floor(60 / 0.125), floor(60 / 0.5)
    assert slow.schedule == (
        "train.max_iters=120",
        "train.warmup_iters=6",  # 5%
        "train.lr_decay_iters=120",
        "train.eval_interval=20",  # 6 evaluations after step 0
    )
    assert steps_in_budget(10.0, 0.3) == 33  # floor, never rounded up past the budget


def test_the_schedule_is_the_one_train_config_gives_a_run_that_leaves_it_out():
    for max_iters in (1, 19, 20, 333, 1761):
        cfg = load_config(TINY, schedule_overrides(max_iters), sections=TRAIN_SECTIONS)
        rule = TrainConfig(max_iters=max_iters)  # warmup_iters, lr_decay_iters left out
        assert (cfg.train.warmup_iters, cfg.train.lr_decay_iters) == (
            rule.warmup_iters,
            rule.lr_decay_iters,
        )
        assert cfg.train.eval_interval * 6 >= max_iters


def test_a_budget_that_buys_no_step_is_one_line():
    with pytest.raises(CourseError, match=r"buys no training step.*--minutes"):
        steps_in_budget(0.1, 0.25)


def test_a_plan_is_saved_and_read_back(tmp_path):
    plan = Plan(TINY, ("model.n_layer=2",), 300.0, machine={"cpu": "x"})
    plan.add([plan_variant(VARIANTS[1], StepTime(0.25, (0.25, 0.26), 1234), 300.0)])
    save_plan(plan, tmp_path)
    assert load_plan(tmp_path) == plan
    with pytest.raises(CourseError, match=r"planned with --base .* budget of 300 s"):
        plan.check_same(TINY, ("model.n_layer=2",), 60.0)


# ----------------------------------------------------------------------------- the variants


def _flat(cfg) -> dict[str, object]:
    return {f"{s}.{k}": v for s, keys in cfg.to_dict().items() for k, v in keys.items()}


@pytest.mark.parametrize("base_overrides", [(), QUICK_OVERRIDES], ids=["tiny", "quick"])
def test_every_variant_is_a_valid_config_that_changes_only_its_keys(base_overrides):
    configs = cli.variant_configs(TINY, base_overrides, VARIANTS)
    baseline = _flat(configs["baseline"])
    for variant in VARIANTS:
        flat = _flat(configs[variant.name])
        named = {}
        for override in variant.overrides:
            section, key, value = parse_override(override)
            named[f"{section}.{key}"] = value
        assert {k for k in flat if flat[k] != baseline[k]} == set(named), variant.name
        for key, value in named.items():
            assert flat[key] == value, (variant.name, key)


def test_the_list_has_the_baseline_each_change_alone_and_the_stacks():
    names = [v.name for v in VARIANTS]
    assert names[0] == "baseline" and len(set(names)) == len(names)
    assert {"rope", "rmsnorm", "swiglu", "relu2", "qk_norm", "gqa", "mqa"} <= set(names)
    assert {"softcap", "untied", "muon", "modern", "modern_muon"} <= set(names)
    modern = dict(parse_override(o)[1:] for o in select_variants(["modern"])[0].overrides)
    assert modern == {
        "position": "rope",
        "norm": "rmsnorm",
        "mlp": "swiglu",
        "qk_norm": True,
        "n_kv_head": 2,
        "tie_weights": False,
    }


def test_only_keeps_the_list_order_and_a_variant_may_not_set_the_schedule():
    assert [v.name for v in select_variants(["muon", "baseline"])] == ["baseline", "muon"]
    with pytest.raises(CourseError, match=r"train.max_iters is set by the ablation"):
        check_variant(Variant("long", ("train.max_iters=9999",), ""))


def test_an_unknown_only_name_is_one_line_naming_the_known_ones(capsys):
    code = run_cli(cli.main, ["--only", "rope", "alibi", "--dry-run"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    known = ", ".join(v.name for v in VARIANTS)
    assert err == f"error: --only: unknown variant 'alibi'; known: {known}\n"


# ----------------------------------------------------------------------------- the table


def write_run(folder: Path, max_iters: int, bits: list[float], seconds_per_step: float) -> None:
    """A run folder's metrics.jsonl: training rows every 10 steps, evaluations at 0, the middle
    and `max_iters` with the given bits per byte (an unfinished run: fewer evaluations)."""
    folder.mkdir(parents=True)
    rows = []
    eval_steps = [0, max_iters // 2, max_iters][: len(bits)]
    for step in range(0, max_iters + 1):
        if step > 0 and step % 10 == 0:
            rows.append({"step": step, "loss": 1.0, "train_seconds": step * seconds_per_step})
        if step in eval_steps:
            value = bits[eval_steps.index(step)]
            rows.append({"step": step, "val_bits_per_byte": value, "val_exact": True})
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def planned(name: str, max_iters: int, seconds_per_step: float = 0.5):
    variant = next(v for v in VARIANTS if v.name == name)
    timing = StepTime(seconds_per_step, (seconds_per_step,), 1000)
    return PlannedVariant(variant.name, variant.overrides, timing, max_iters)


def test_results_are_the_last_evaluation_averaged_over_seeds_against_the_baseline(tmp_path):
    write_run(tmp_path / "baseline-s1", 40, [8.0, 3.0, 2.0], 0.5)
    write_run(tmp_path / "baseline-s2", 40, [8.0, 3.0, 2.25], 0.5)
    write_run(tmp_path / "rope-s1", 44, [8.0, 3.0, 1.75], 0.5)
    write_run(tmp_path / "rope-s2", 44, [8.0, 3.0, 2.0], 0.5)
    write_run(tmp_path / "mqa-s1", 50, [8.0, 2.5, 1.5], 0.25)
    write_run(tmp_path / "mqa-s2", 50, [8.0, 2.5, 1.75], 0.25)
    for seed, peak in ((1, 300.0), (2, 321.5)):  # what launch.py and week 4 leave in a run
        folder = tmp_path / f"mqa-s{seed}"
        (folder / PROCESS_FILE).write_text(json.dumps({"peak_rss_mb": peak}))
        (folder / "config.yaml").write_text("train:\n  batch_size: 4\nmodel:\n  block_size: 8\n")
    write_run(tmp_path / "muon-s1", 30, [8.0, 3.0, 1.0], 1.0)
    write_run(tmp_path / "muon-s2", 30, [8.0, 3.0], 1.0)  # stopped before its last evaluation
    plan = [planned("baseline", 40), planned("rope", 44), planned("mqa", 50), planned("muon", 30)]
    base, rope, mqa, muon = summarize(plan, tmp_path, seeds=[1, 2])
    assert (base.mean, base.low, base.high, base.vs_baseline) == (2.125, 2.0, 2.25, 0.0)
    assert (rope.mean, rope.low, rope.high, rope.vs_baseline) == (1.875, 1.75, 2.0, -0.25)
    assert rope.overlaps_baseline is True  # 1.75-2.0 touches 2.0-2.25
    assert (mqa.mean, mqa.vs_baseline, mqa.overlaps_baseline) == (1.625, -0.5, False)
    assert mqa.peak_rss_mb == 321.5 and mqa.tokens_per_second == 4.0 * 32  # 4 steps/s x 4 x 8
    assert [r.steps for r in rope.runs] == [44, 44] and rope.runs[0].train_seconds == 22.0
    assert rope.measured_steps_per_second == 2.0
    assert [r.seed for r in muon.runs] == [1]  # the unfinished seed is left out
    assert (muon.mean, muon.vs_baseline, muon.overlaps_baseline) == (1.0, -1.125, None)
    rows = table_rows([base, rope, mqa, muon])
    assert rows[1][8:13] == ["1.8750", "1.750-2.000", "-0.2500", "yes", "2/2"]
    assert rows[1][3:5] == ["-", "-"]  # tokens/s and peak memory: no config.yaml, no process.json
    assert rows[3][-1] == "1/2"
    context = {
        "name": "test",
        "base": TINY,
        "budget_seconds": 20.0,
        "seeds": [1, 2],
        "machine": {"cpu": "a CPU", "cores": 2, "torch": "2.x", "torch_threads": 1},
        "load_average_start": [0.5, 0.5, 0.5],
        "load_average_end": [1.0, 0.5, 0.5],
        "calibration_load": [0.5, 0.5, 0.5],
    }
    text = markdown([base, rope, mqa, muon], context)
    assert "| rope | 2.00 | 2.00 | - | - | 44 | 22.0 | 1,000 | 1.8750 |" in text
    assert "| mqa | 2.00 | 4.00 | 128 | 322 | 50 |" in text  # calibrated at 2, ran at 4
    assert "a CPU, 2 cores" in text and "at the end [1.0, 0.5, 0.5]" in text


def test_training_seconds_at_a_step_are_interpolated_between_rows():
    rows = [{"step": 10, "train_seconds": 2.0}, {"step": 20, "train_seconds": 6.0}, {"step": 20}]
    points = training_points(rows)
    assert points == [(0, 0.0), (10, 2.0), (20, 6.0)]
    assert [seconds_at(s, points) for s in (0, 5, 10, 15, 20, 25)] == [0, 1, 2, 4, 6, 7.5]


# ----------------------------------------------------------------------------- resuming


def test_a_finished_run_is_skipped_a_stopped_one_resumed_a_new_one_trained(tmp_path):
    plan = [planned("baseline", 40), planned("rope", 44)]
    specs = run_specs(plan, [7, 8], TINY, ("model.n_layer=1",), tmp_path)
    assert [s.label for s in specs] == ["baseline-s7", "rope-s7", "baseline-s8", "rope-s8"]
    write_run(tmp_path / "baseline-s7", 40, [8.0, 3.0, 2.0], 0.5)  # finished
    write_run(tmp_path / "rope-s7", 44, [8.0, 3.0], 0.5)  # stopped half-way
    (tmp_path / "rope-s7" / "last.pt").write_bytes(b"state")
    assert run_state(tmp_path / "rope-s7", 44) is RunState.STARTED
    commands = []

    def fake_train(command):
        """Writes what a run that reaches its last evaluation writes; exit 1 for rope-s8."""
        commands.append(command)
        if "--resume" in command:
            folder = Path(command[command.index("--resume") + 1])
            with open(folder / "metrics.jsonl", "a") as metrics:
                metrics.write(json.dumps({"step": 44, "val_bits_per_byte": 2.0}) + "\n")
            return 0
        name = next(c.split("=", 1)[1] for c in command if c.startswith("run.name="))
        if name == "rope-s8":
            return 1
        write_run(tmp_path / name, 40, [8.0, 3.0, 2.0], 0.5)
        return 0

    outcomes = train_all(specs, run=fake_train, say=lambda _: None)
    assert [o.status for o in outcomes] == ["skipped", "finished", "finished", "failed (exit 1)"]
    with pytest.raises(CourseError, match=r"1 runs did not finish: rope-s8 \(failed \(exit 1\)\)"):
        cli.report_outcomes(outcomes)
    resume, baseline_s8, rope_s8 = commands
    assert resume[-2:] == ["--resume", str(tmp_path / "rope-s7")]
    assert baseline_s8[4:8] == ["week4_training.cli", "train", "--config", TINY]
    assert baseline_s8[8:] == [
        "model.n_layer=1",
        *plan[0].schedule,
        "run.name=baseline-s8",
        f"run.out_dir={tmp_path}",
        "run.seed=8",
    ]
    assert "--overwrite=1" not in rope_s8  # a folder that does not exist yet
    measured = ["-m", "week6_optimizations.ablation.measured"]
    assert baseline_s8[1:4] == [*measured, str(tmp_path / "baseline-s8" / PROCESS_FILE)]


def test_a_run_folder_planned_for_other_steps_is_refused(tmp_path):
    write_run(tmp_path / "rope-s1", 44, [8.0, 3.0], 0.5)
    (tmp_path / "rope-s1" / "config.yaml").write_text("train:\n  max_iters: 50\n")
    with pytest.raises(CourseError, match=r"rope-s1 trains 50 steps, the ablation's plan 44"):
        run_state(tmp_path / "rope-s1", 44)


def test_a_ctrl_c_ends_the_ablation_and_leaves_the_rest_for_next_time(tmp_path):
    specs = run_specs([planned("baseline", 40), planned("rope", 44)], [1], TINY, (), tmp_path)
    outcomes = train_all(specs, run=lambda command: EXIT_INTERRUPTED, say=lambda _: None)
    assert [o.status for o in outcomes] == ["interrupted", "not started"]
    assert cli.report_outcomes(outcomes) == EXIT_INTERRUPTED


# ----------------------------------------------------------------------------- end to end


@pytest.mark.task(*TASKS_OF_A_RUN, *ROPE_TASKS)
def test_a_quick_ablation_writes_its_table_and_plot_and_continues_without_retraining(
    isolated, capsys
):
    argv = ["--quick", "--seeds", "1", "--only", "baseline", "rope", "--out-dir", str(isolated)]
    assert cli.main(argv) == 0
    folder = isolated / "quick-1s"
    plan = load_plan(folder)
    assert plan is not None and list(plan.variants) == ["baseline", "rope"]
    document = json.loads((folder / "results.json").read_text())
    assert [v["name"] for v in document["variants"]] == ["baseline", "rope"]
    for variant in document["variants"]:
        (run,) = variant["runs"]
        assert run["steps"] == variant["max_iters"] == plan.variants[variant["name"]].max_iters
        assert run["exact"] and 0 < run["bits_per_byte"] < 9
        assert variant["calibrated_steps_per_second"] > 0
        saved = yaml.safe_load((folder / f"{variant['name']}-s1337" / "config.yaml").read_text())
        assert saved["train"]["lr_decay_iters"] == variant["max_iters"]
        assert saved["train"]["warmup_iters"] == variant["max_iters"] // 20
    assert document["variants"][0]["vs_baseline"] == 0.0
    assert "| rope |" in (folder / "results.md").read_text()
    assert (folder / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = folder / "rope-s1337" / "metrics.jsonl"
    before = metrics.stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main(argv) == 0  # again: the plan is read back, both runs are skipped
    out = capsys.readouterr().out
    assert "calibrating" not in out and out.count("finished before, skipped") == 2
    assert metrics.stat().st_mtime_ns == before


def test_a_run_measures_its_own_peak_memory(tmp_path, capsys):
    from week6_optimizations.ablation import measured

    out = tmp_path / PROCESS_FILE
    assert measured.main([str(out), "week6_optimizations.ablation.cli", "--help"]) == 0
    record = json.loads(out.read_text())
    if Path("/proc/self/status").is_file():
        assert 10 < record["peak_rss_mb"] < 5000  # this test process's own high-water mark
    assert record["wall_seconds"] >= 0
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmHWM:\t  204800 kB\nVmRSS:\t 1000 kB\n")
    assert measured.peak_rss_mb(status) == 204800 * 1024 / 1e6
    assert measured.peak_rss_mb(tmp_path / "missing") is None
    gone = tmp_path / "no-such-folder" / PROCESS_FILE  # a run that never made its folder
    measured.main([str(gone), "week6_optimizations.ablation.cli", "--help"])
    assert not gone.parent.exists()


def test_runs_that_stepped_off_their_calibration_are_named(tmp_path):
    write_run(tmp_path / "baseline-s1", 40, [8.0, 3.0, 2.0], 0.5)  # 2 steps/s, as calibrated
    write_run(tmp_path / "rope-s1", 44, [8.0, 3.0, 1.75], 0.25)  # 4 steps/s against 2
    results = summarize([planned("baseline", 40), planned("rope", 44)], tmp_path, seeds=[1])
    assert off_budget(results) == ["rope"]
    context = {
        "name": "t", "base": TINY, "budget_seconds": 20.0, "seeds": [1],
        "machine": {}, "load_average_start": [], "load_average_end": [], "calibration_load": [],
    }  # fmt: skip
    assert "**Not an equal-time comparison:** rope stepped more than 15%" in markdown(
        results, context
    )
    assert off_budget(results[:1]) == [] and "Not an equal-time" not in markdown(
        results[:1], context
    )
