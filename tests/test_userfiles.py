"""bench.userfiles: every file a user hands bench is read safely, and each way it can be broken
or hostile is refused as a BenchError naming the file, what it holds and what was expected."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from bench.errors import BenchError
from bench.userfiles import (
    check_state_dict,
    load_array,
    load_state,
    load_torch,
    open_image,
    read_json,
)


def refused(call, *words: str) -> str:
    with pytest.raises(BenchError) as caught:
        call()
    text = caught.value.message()
    for word in words:
        assert word in text, text
    assert caught.value.fix
    return text


class Hostile:
    """Unpickling this would run code: a safe load must refuse it."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/bench-userfiles-pwned",))


def test_good_files_load(tmp_path) -> None:
    x = np.random.default_rng(0).normal(size=(5, 2)).astype(np.float32)
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "b.npz", samples=x, seed=np.asarray(3))
    torch.save(torch.as_tensor(x, dtype=torch.bfloat16), tmp_path / "c.pt")
    assert np.array_equal(load_array(tmp_path / "a.npy"), x)
    assert np.array_equal(load_array(tmp_path / "b.npz"), x)
    assert load_array(tmp_path / "c.pt").shape == (5, 2)
    torch.save({"state_dict": {"w": torch.ones(2)}, "step": 3}, tmp_path / "k.pt")
    assert load_state(tmp_path / "k.pt")["step"] == 3
    (tmp_path / "m.json").write_text('{"a": 1}')
    assert read_json(tmp_path / "m.json") == {"a": 1}


def test_missing_and_unreadable(tmp_path) -> None:
    refused(lambda: load_array(tmp_path / "none.npy"), "none.npy", "does not exist")
    refused(lambda: read_json(tmp_path), "is a folder", "expected a file")
    refused(lambda: load_state(tmp_path), "is a folder")
    refused(lambda: load_array(tmp_path / "x.csv".replace("x", "y")), "does not exist")
    (tmp_path / "y.csv").write_text("1,2\n")
    refused(lambda: load_array(tmp_path / "y.csv"), "'.csv'", ".npy, .npz, .pt")
    locked = tmp_path / "locked.npy"
    np.save(locked, np.ones((2, 2)))
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):  # root reads anything: nothing to refuse
            pytest.skip("running as root")
        refused(lambda: load_array(locked), "cannot be read", "chmod")
    finally:
        locked.chmod(0o644)


def test_truncated_corrupted_and_not_a_zip(tmp_path) -> None:
    torch.save({"state_dict": {"w": torch.ones(100)}, "step": 1}, tmp_path / "k.pt")
    whole = (tmp_path / "k.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(whole[: len(whole) // 2])
    refused(lambda: load_state(tmp_path / "cut.pt"), "cut.pt", "truncated", "expected a complete")
    (tmp_path / "text.pt").write_text("hello, not a torch file")
    refused(lambda: load_state(tmp_path / "text.pt"), "text.pt", "kept model is")
    np.savez(tmp_path / "s.npz", samples=np.ones((4, 2)))
    data = (tmp_path / "s.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) - 30])
    refused(lambda: load_array(tmp_path / "cut.npz"), "cut.npz", "file of samples is")
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY garbage")
    refused(lambda: load_array(tmp_path / "bad.npy"), "bad.npy", "corrupted")
    (tmp_path / "bad.json").write_text("{not json")
    refused(lambda: read_json(tmp_path / "bad.json"), "bad.json", "corrupted")
    (tmp_path / "list.json").write_text("[1, 2]")
    refused(lambda: read_json(tmp_path / "list.json"), "JSON list", "a JSON object")


def test_a_hostile_pickle_is_refused_and_never_run(tmp_path) -> None:
    for name, save in {
        "plain.pt": lambda f: pickle.dump({"x": Hostile()}, f),
        "torch.pt": lambda f: torch.save({"x": Hostile()}, f),
    }.items():
        with open(tmp_path / name, "wb") as handle:
            save(handle)
        refused(lambda n=name: load_torch(tmp_path / n, "kept model"), name, "safe load refuses")
    assert not os.path.exists("/tmp/bench-userfiles-pwned")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    refused(lambda: load_array(tmp_path / "obj.npy"), "object array", "numeric")


def test_a_plain_pickle_is_refused_without_torchs_warning_first(tmp_path, recwarn) -> None:
    """torch warns about the pickle protocol of a plain pickle before refusing it; the user
    reads bench's refusal alone."""
    with open(tmp_path / "plain.pt", "wb") as handle:
        pickle.dump({"x": Hostile()}, handle, protocol=4)
    refused(lambda: load_torch(tmp_path / "plain.pt", "kept model"), "safe load refuses")
    assert [str(w.message) for w in recwarn if "pickle protocol" in str(w.message)] == []


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.array([["a", "b"]]), ("dtype <U1", "integer or float")),
        (np.ones((2, 2), np.complex64), ("complex64",)),
        (np.ones((2, 2), bool), ("bool",)),
        (np.ones(3), ("rank 1", "(N, features)")),
        (np.ones((1, 2, 2, 2, 2)), ("rank 5",)),
        (np.ones((0, 2)), ("empty",)),
        (np.array([[1.0, np.nan], [np.inf, 0.0]]), ("2 NaN or infinite",)),
    ],
)
def test_arrays_bench_cannot_measure(tmp_path, array, words) -> None:
    np.save(tmp_path / "x.npy", array)
    refused(lambda: load_array(tmp_path / "x.npy"), "x.npy", *words)


def test_a_pt_that_is_not_one_tensor(tmp_path) -> None:
    torch.save({"x": torch.ones(2, 2)}, tmp_path / "d.pt")
    refused(lambda: load_array(tmp_path / "d.pt"), "holds a dict", "a single tensor")
    torch.save(torch.ones(2, 2, dtype=torch.complex64), tmp_path / "c.pt")
    refused(lambda: load_array(tmp_path / "c.pt"), "complex64")
    torch.save([1, 2], tmp_path / "l.pt")
    refused(lambda: load_state(tmp_path / "l.pt"), "holds a list", "a mapping")


def test_an_npz_without_the_samples_key(tmp_path) -> None:
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    refused(lambda: load_array(tmp_path / "two.npz"), "['a', 'b']", "'samples'")


def test_a_state_dict_that_does_not_fit_its_model(tmp_path) -> None:
    model = {"w": torch.ones(2, 3), "b": torch.ones(3)}
    where = tmp_path / "model_final.pt"
    ok = check_state_dict(where, "kept model", {"w": torch.zeros(2, 3), "b": torch.zeros(3)}, model)
    assert set(ok) == {"w", "b"}
    refused(
        lambda: check_state_dict(where, "kept model", {"w": torch.ones(2, 3)}, model), "missing b"
    )
    extra = {**model, "z": torch.ones(1)}
    refused(lambda: check_state_dict(where, "kept model", extra, model), "unexpected z")
    wide = {"w": torch.ones(4, 3), "b": torch.ones(3)}
    refused(lambda: check_state_dict(where, "kept model", wide, model), "w (4, 3) (model: (2, 3))")
    refused(lambda: check_state_dict(where, "kept model", [1], model), "not a mapping")


def test_images_broken_or_of_different_sizes(tmp_path) -> None:
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.new("L", (4, 4)).save(folder / "a.png")
    (folder / "b.png").write_bytes((folder / "a.png").read_bytes()[:20])
    refused(lambda: open_image(folder / "b.png"), "b.png")
    refused(lambda: load_array(folder), "b.png")
    Image.new("L", (5, 5)).save(folder / "b.png")
    refused(lambda: load_array(folder), "differ in size")
    (folder / "a.png").unlink(), (folder / "b.png").unlink()
    refused(lambda: load_array(folder), "no images")
