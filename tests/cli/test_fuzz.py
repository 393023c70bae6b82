"""Fuzzing every file a user hands bench: random truncations and byte flips of real sample files
(.npy/.npz/.pt), kept models, checkpoints and run folders, and random small arrays of every dtype
and rank, through `bench evaluate`, `bench sample` and `bench evaluate --run`. Each case ends in
success or a BenchError (exit 2, one paragraph, no traceback), never another exception, and a
refused input leaves nothing written. Examples are bounded and derandomized: a few seconds, the
same cases on every machine."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bench.cli import EXIT_USAGE, app
from bench.io import file_sha256
from bench.trial import checkpoint
from bench.trial.kept import load_kept
from bench.trial.train import rng_state
from tests.results.runs import KEPT_SUITE, run_in_process

runner = CliRunner()
FUZZ = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MEASURE = ("--real", "ring8", "--reference", "100", "--metrics", "fid")


def bench(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def ends_well(result) -> None:
    """Success, or a BenchError printed as one paragraph with exit 2; never another exception."""
    if result.exit_code == 0:
        return
    assert result.exit_code == EXIT_USAGE, (result.exit_code, repr(result.exception), result.output)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "error:" in result.output, result.output


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A finished run (gan and ae on ring8), its samples saved as .npy/.npz/.pt, and a checkpoint
    of the gan with everything a trial's checkpoint holds (numpy's RNG state among it)."""
    root = tmp_path_factory.mktemp("fuzz")
    run = run_in_process(root, KEPT_SUITE.format(extra=""))
    (trial_dir,) = run.glob("trials/gan-*")
    samples = root / "samples.npz"
    assert bench("sample", trial_dir, "-n", 64, "-o", samples).exit_code == 0
    x = np.load(samples)["samples"]
    np.save(root / "samples.npy", x)
    torch.save(torch.as_tensor(x), root / "samples.pt")
    _, model = load_kept(trial_dir)
    state = {"step": 4, "model": model.training_state(), "rng": rng_state(torch.device("cpu"))}
    checkpoint.save(state, root / "checkpoint_000000")
    return {
        "run": run,
        "trial": trial_dir,
        "checkpoint": root / "checkpoint_000000",
        **{suffix: root / f"samples.{suffix}" for suffix in ("npy", "npz", "pt")},
    }


@st.composite
def damaged(draw, data: bytes) -> bytes:
    """`data` cut short, or with a few bytes flipped (xor with a non-zero byte)."""
    if draw(st.booleans()):
        return data[: draw(st.integers(0, len(data) - 1))]
    out = bytearray(data)
    for at, xor in draw(
        st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 255)), min_size=1)
    ):
        out[at] ^= xor
    return bytes(out)


@FUZZ
@given(data=st.data(), suffix=st.sampled_from(["npy", "npz", "pt"]))
def test_damaged_sample_files_through_bench_evaluate(files, data, suffix) -> None:
    broken = data.draw(damaged(files[suffix].read_bytes()))
    with tempfile.TemporaryDirectory() as tmp:
        fake = Path(tmp) / f"fake.{suffix}"
        fake.write_bytes(broken)
        ends_well(bench("evaluate", *MEASURE, "--fake", fake))


DTYPES = ["bool", "int8", "uint8", "int32", "int64", "uint64", "float16", "float32", "float64"]
DTYPES += ["complex64", "<U2", "S2", "datetime64[s]", "object"]


@st.composite
def arrays(draw) -> np.ndarray:
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    seed = draw(st.integers(0, 2**16))
    values = np.random.default_rng(seed).normal(0, draw(st.sampled_from([1.0, 1e3, 1e40])), shape)
    if draw(st.booleans()) and values.size:
        values.flat[draw(st.integers(0, values.size - 1))] = draw(
            st.sampled_from([np.nan, np.inf, -np.inf])
        )
    with np.errstate(all="ignore"):
        if dtype.kind in "USO":
            return values.astype(str).astype(dtype)
        return values.astype(np.int64 if dtype.kind == "M" else dtype).astype(dtype)


@FUZZ
@given(
    array=arrays(), suffix=st.sampled_from(["npy", "pt"]), side=st.sampled_from(["fake", "real"])
)
def test_arrays_of_every_dtype_and_rank_through_bench_evaluate(files, array, suffix, side) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"x.{suffix}"
        if suffix == "npy":
            np.save(path, array, allow_pickle=True)  # the hostile side may well pickle
        else:
            try:
                torch.save(torch.as_tensor(array), path)
            except (TypeError, RuntimeError):  # torch has no such dtype: save the raw array
                torch.save({"array": array.tolist()}, path)
        if side == "fake":
            ends_well(bench("evaluate", *MEASURE, "--fake", path))
        else:
            ends_well(bench("evaluate", "--real", path, "--fake", files["npy"], "--metrics", "fid"))


@settings(FUZZ, max_examples=25)
@given(data=st.data(), name=st.sampled_from(["model_final.pt", "model_best.pt", "config.json"]))
def test_damaged_kept_models_through_bench_sample(files, data, name) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / files["trial"].name
        trial.mkdir()
        for kept in ("config.json", "model_final.pt", "model_best.pt"):
            shutil.copy(files["trial"] / kept, trial / kept)
        (trial / name).write_bytes(data.draw(damaged((trial / name).read_bytes())))
        out = Path(tmp) / "out.npz"
        which = "best" if name == "model_best.pt" else "final"
        result = bench("sample", trial, "-n", 16, "--which", which, "-o", out)
        ends_well(result)
        assert out.exists() == (result.exit_code == 0)  # a refusal writes nothing


def snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}


@settings(FUZZ, max_examples=15)
@given(data=st.data(), name=st.sampled_from(["model_final.pt", "metrics.json", "history.csv"]))
def test_a_run_folder_with_a_damaged_file_through_bench_evaluate_run(files, data, name) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = shutil.copytree(files["run"], Path(tmp) / "run")
        target = run / "trials" / files["trial"].name / name
        target.write_bytes(data.draw(damaged(target.read_bytes())))
        before = snapshot(run)
        result = bench("evaluate", "--run", run, "--metrics", "fid")
        ends_well(result)
        if result.exit_code != 0:
            assert snapshot(run) == before and not (run / "evaluations").exists()


@settings(FUZZ, max_examples=40)
@given(data=st.data(), name=st.sampled_from(["state.pt", "meta.json"]), rehash=st.booleans())
def test_damaged_checkpoints_are_refused_or_loaded(files, data, name, rehash) -> None:
    """Restoring a trial reads its checkpoint safely: a damaged one is a CheckpointError (the
    trial falls back to the previous), even when its checksum was rewritten to match."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = shutil.copytree(files["checkpoint"], Path(tmp) / "checkpoint_000000")
        target = folder / name
        target.write_bytes(data.draw(damaged(target.read_bytes())))
        if rehash and name == "state.pt":
            meta = json.loads((folder / "meta.json").read_text())
            meta["sha256"] = file_sha256(target)
            (folder / "meta.json").write_text(json.dumps(meta))
        try:
            state = checkpoint.load(folder)
        except checkpoint.CheckpointError as exc:
            assert str(exc)
        else:
            assert state["step"] == 4
