"""`bench evaluate`'s data path: samples from files and folders measured like a trial's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.data import DATASETS, DataInfo
from bench.errors import BenchError
from bench.measure.foreign import evaluate_external, read_array, to_data_space


@pytest.fixture(scope="module")
def ring_heldout() -> np.ndarray:
    return DATASETS.get("ring8")().load().heldout.numpy()


def test_npz_of_true_samples_scores_like_the_data(tmp_path, ring_heldout) -> None:
    path = tmp_path / "fake.npz"
    np.savez(path, samples=ring_heldout)
    evaluation, board = evaluate_external("ring8", path, metrics=["modes", "fid"])
    assert evaluation.values["modes"] == 8
    assert evaluation.values["fid"] < 0.05
    (row,) = board.rows
    assert row.values["modes"] == [8.0] and row.model == "fake.npz"


def test_collapsed_samples_score_worse(tmp_path, ring_heldout) -> None:
    path = tmp_path / "collapsed.npy"
    np.save(path, ring_heldout[:1].repeat(500, axis=0))
    evaluation, _ = evaluate_external("ring8", path, metrics=["modes"])
    assert evaluation.values["modes"] == 1


def test_real_side_can_be_a_file_too(tmp_path, ring_heldout) -> None:
    real, fake = tmp_path / "real.npy", tmp_path / "fake.pt"
    np.save(real, ring_heldout)
    torch.save(torch.as_tensor(ring_heldout[::-1].copy()), fake)
    evaluation, board = evaluate_external(str(real), fake)
    assert "fid" in evaluation.values and "modes" not in evaluation.values  # no known centres
    assert board.rows[0].dataset == "real.npy"


def test_image_folder_is_read_as_uint8_in_the_data_range(tmp_path) -> None:
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 255 * (i % 2), np.uint8)).save(folder / f"{i}.png")
    array = read_array(folder)
    x = to_data_space(array, DataInfo((1, 8, 8), "image", (0.0, 1.0), 10), "imgs")
    assert x.shape == (3, 1, 8, 8)
    assert x[1].eq(1.0).all() and x[0].eq(0.0).all()


def test_channel_last_images_are_rearranged() -> None:
    info = DataInfo((3, 4, 4), "image", (-1.0, 1.0))
    x = to_data_space(np.zeros((2, 4, 4, 3), np.uint8), info, "x")
    assert x.shape == (2, 3, 4, 4) and x.eq(-1.0).all()


@pytest.mark.parametrize(
    ("real", "fake_name", "message"),
    [
        ("ring9", "fake.npy", "Did you mean 'ring8'"),
        ("ring8", "missing.npy", "does not exist"),
        ("ring8", "fake.txt", "cannot read samples"),
        ("ring8", "wide.npy", "do not match the data's shape"),
    ],
)
def test_bad_input_is_explained(tmp_path, real, fake_name, message) -> None:
    np.save(tmp_path / "fake.npy", np.zeros((10, 2)))
    np.save(tmp_path / "wide.npy", np.zeros((10, 3)))
    (tmp_path / "fake.txt").write_text("1 2")
    with pytest.raises(BenchError, match=message):
        evaluate_external(real, tmp_path / fake_name, metrics=["modes"])
