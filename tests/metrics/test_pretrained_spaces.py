"""The DINOv2 and CLIP feature spaces against torch-fidelity, with randomly initialised networks
in torch-fidelity's own weights formats, built here in tmp_path (nothing is downloaded):

- CLIP: a TorchScript archive, as OpenAI publishes it, whose state dict torch-fidelity rebuilds
  its visual tower from. Ours is a one-layer ViT of width 64 (one head, the least torch-fidelity
  accepts) at ViT-B/32's geometry (32 px patches, 224 px), made with torch-fidelity's copy of
  OpenAI's VisionTransformer so the keys are the real ones, plus `text_projection` (read for the
  embedding width), and loaded as "clip-vit-b-32".
- DINOv2: torch-fidelity calls torch.hub.load("facebookresearch/dinov2", "dinov2_vits14"), so a
  torch hub directory: facebookresearch_dinov2_main/hubconf.py and checkpoints/. The PyPI package
  `dinov2` (0.0.1.dev2) is not the official code (an unofficial upload that pins torch==2.0.0,
  xformers and cuml), so the hubconf here is a minimal stand-in: a tiny one-block ViT with
  DINOv2's interface (224 px RGB in, the normalised class token out) that loads its checkpoint
  through torch hub's cache as the real hubconf does.

The user's path is `bench evaluate --real FILE --fake FILE --feature-space NAME`; its FID must be
torch_fidelity.calculate_metrics' on the same uint8 images."""

from __future__ import annotations

import importlib.util
import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch_fidelity
from torch import nn
from torch_fidelity import feature_extractor_clip, feature_extractor_dinov2
from typer.testing import CliRunner

from bench.cli import EXIT_USAGE, app
from bench.io import file_sha256
from bench.measure.foreign import real_assets
from bench.metrics.features import FEATURE_SPACES
from bench.metrics.features.clip import CLIP_ENV, CLIP_MODELS
from bench.metrics.features.dinov2 import DINOV2_ENV, DINOV2_MODELS, DINOV2_REPO, hub_at
from tests.metrics.tensor_images import TensorImages

runner = CliRunner()
# torch 2.10+ deprecates TorchScript, the format OpenAI's CLIP weights (and torch-fidelity) use.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.*` is deprecated:FutureWarning")

TINY_HUBCONF = '''"""A stand-in for facebookresearch/dinov2's hubconf.py (see the test)."""

import torch
from torch import nn

dependencies = ["torch"]
URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth"


class TinyViT(nn.Module):
    def __init__(self, dim: int = 16, patch: int = 14, size: int = 224) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.02)
        self.block = nn.TransformerEncoderLayer(
            dim, 2, 2 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        return self.norm(self.block(x))[:, 0]


def dinov2_vits14(*, pretrained: bool = True, **kwargs):
    model = TinyViT()
    if pretrained:
        model.load_state_dict(torch.hub.load_state_dict_from_url(URL, map_location="cpu"))
    return model
'''


def tiny_dinov2_hub(folder: Path) -> Path:
    """A torch hub directory from which torch-fidelity loads "dinov2-vit-s-14" offline."""
    hubconf = folder / DINOV2_REPO / "hubconf.py"
    hubconf.parent.mkdir(parents=True)
    hubconf.write_text(TINY_HUBCONF)
    spec = importlib.util.spec_from_file_location("tiny_dinov2_hubconf", hubconf)
    assert spec is not None and spec.loader is not None
    code = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(code)
    torch.manual_seed(0)
    (folder / "checkpoints").mkdir()
    state = code.dinov2_vits14(pretrained=False).state_dict()
    torch.save(state, folder / "checkpoints" / "dinov2_vits14_pretrain.pth")
    return folder


class TinyClip(nn.Module):
    """What torch-fidelity reads of an OpenAI CLIP archive: `visual.*` and `text_projection`."""

    def __init__(self) -> None:
        super().__init__()
        self.visual = feature_extractor_clip.VisionTransformer(
            input_resolution=224, patch_size=32, width=64, layers=1, heads=1, output_dim=8
        )
        self.text_projection = nn.Parameter(torch.randn(8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.visual(x) @ self.text_projection.T


def tiny_clip_file(folder: Path) -> Path:
    """A TorchScript archive torch-fidelity loads as "clip-vit-b-32"."""
    torch.manual_seed(0)
    folder.mkdir()
    path = folder / "tiny-clip.pt"
    torch.jit.script(TinyClip().eval()).save(str(path))
    return path


@pytest.fixture
def no_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No weights anywhere: the variables unset (and unset again after the CLI sets them) and
    torch hub's directory an empty folder."""
    for env in (DINOV2_ENV, CLIP_ENV):
        monkeypatch.delenv(env, raising=False)
    empty = tmp_path / "torch-hub"
    with hub_at(empty):
        yield empty


def grey_images(n: int, seed: int, brightness: float) -> np.ndarray:
    """(n, 16, 16) uint8 images: smooth random blobs."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, brightness, size=(n, 4, 4))
    return np.kron(coarse, np.ones((4, 4))).round().astype(np.uint8)


def as_rgb_uint8(x: torch.Tensor) -> torch.Tensor:
    """bench's float images in [0, 1] back to the uint8 RGB pixels they were read from."""
    return (x * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()


def bench(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def test_model_names_are_torch_fidelitys() -> None:
    assert DINOV2_MODELS == feature_extractor_dinov2.MODEL_METADATA
    assert list(feature_extractor_clip.MODEL_METADATA) == CLIP_MODELS
    for name in [*DINOV2_MODELS, *CLIP_MODELS]:
        space = FEATURE_SPACES.get(name)
        assert space.model == name
        assert pickle.loads(pickle.dumps(space)) is space  # made at registration, yet picklable
    assert FEATURE_SPACES.get("dinov2").model == "dinov2-vit-l-14"
    assert FEATURE_SPACES.get("clip").model == "clip-vit-l-14-336px"


SPACES: dict[str, tuple[str, str, Callable[[Path], Path], str]] = {
    # space -> (torch-fidelity's layer, the CLI option, its weights builder, its weights file)
    "dinov2-vit-s-14": (
        "dinov2",
        "--dinov2-weights",
        tiny_dinov2_hub,
        "checkpoints/dinov2_vits14_pretrain.pth",
    ),
    "clip-vit-b-32": ("clip", "--clip-weights", tiny_clip_file, ""),
}


@pytest.mark.parametrize("space", list(SPACES))
def test_bench_evaluate_fid_is_torch_fidelitys(
    space: str, tmp_path: Path, no_weights: Path
) -> None:
    layer, option, build, weights_file = SPACES[space]
    weights = build(tmp_path / "weights")
    real, fake = tmp_path / "real.npy", tmp_path / "fake.npy"
    np.save(real, grey_images(30, seed=1, brightness=255))
    np.save(fake, grey_images(20, seed=2, brightness=160))
    scores = tmp_path / "scores.json"
    result = bench(
        "evaluate", "--real", real, "--fake", fake, "--metrics", "fid",
        "--feature-space", space, option, weights, "-o", scores,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ours = json.loads(scores.read_text())["metrics"]["fid"]

    # The real side the evaluator compared with, and the protocol it recorded.
    assets = real_assets(str(real), space, 10_000)
    state = assets.feature_state
    assert state["extractor"] == f"torch-fidelity {space}"
    assert state["sha256"] == file_sha256(weights / weights_file if weights_file else weights)
    assert "resize" in state["preprocessing"]
    reference = as_rgb_uint8(assets.splits.train[assets.reference_index])
    with hub_at(weights if weights.is_dir() else no_weights):  # where torch hub finds dinov2
        theirs = torch_fidelity.calculate_metrics(
            input1=TensorImages(reference),
            input2=TensorImages(as_rgb_uint8(torch.from_numpy(np.load(fake))[:, None] / 255)),
            fid=True,
            feature_extractor=space,
            feature_layer_fid=layer,
            feature_extractor_weights_path=None if weights.is_dir() else str(weights),
            cuda=False,
            cache=False,
            save_cpu_ram=True,  # no DataLoader worker processes
            batch_size=7,  # not bench's batch: the value must not depend on it
            verbose=False,
        )["frechet_inception_distance"]
    assert ours > 0.01
    assert ours == pytest.approx(theirs, rel=1e-6)


def image_files(tmp_path: Path) -> list[object]:
    real, fake = tmp_path / "real.npy", tmp_path / "fake.npy"
    np.save(real, grey_images(10, seed=1, brightness=255))
    np.save(fake, grey_images(10, seed=2, brightness=255))
    return ["evaluate", "--real", real, "--fake", fake, "--metrics", "fid"]


def assert_refused(result, *words: str) -> None:
    """Exit 2, one paragraph naming `words`, no traceback (compared without whitespace: the
    console folds long paths anywhere)."""
    assert result.exit_code == EXIT_USAGE, result.output
    assert "Traceback" not in result.output and "fix:" in result.output
    for word in words:
        assert "".join(word.split()) in "".join(result.output.split()), (word, result.output)


def test_missing_dinov2_weights_are_refused(tmp_path: Path, no_weights: Path) -> None:
    result = bench(*image_files(tmp_path), "--feature-space", "dinov2")
    assert_refused(result, "hubconf.py", str(no_weights), "--dinov2-weights", DINOV2_ENV)
    result = bench(*image_files(tmp_path), "--feature-space", "dinov2", "--dinov2-weights", "/no")
    assert_refused(result, "/no does not exist", "--dinov2-weights")
    a_file = tmp_path / "real.npy"
    result = bench(*image_files(tmp_path), "--feature-space", "dinov2", "--dinov2-weights", a_file)
    assert_refused(result, f"{a_file} is not a directory", "--dinov2-weights")


def test_missing_clip_weights_are_refused(tmp_path: Path, no_weights: Path) -> None:
    result = bench(*image_files(tmp_path), "--feature-space", "clip")
    model = "clip-vit-l-14-336px"
    cached = (
        no_weights
        / "checkpoints"
        / f"{model}-{feature_extractor_clip.MODEL_METADATA[model]['hash']}.pt"
    )
    assert_refused(result, str(cached), feature_extractor_clip.MODEL_URLS[model], "--clip-weights")
    result = bench(*image_files(tmp_path), "--feature-space", "clip", "--clip-weights", "/no.pt")
    assert_refused(result, "/no.pt does not exist", "--clip-weights")


def test_corrupt_weights_are_refused(tmp_path: Path, no_weights: Path) -> None:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a TorchScript archive" * 10)
    result = bench(*image_files(tmp_path), "--feature-space", "clip", "--clip-weights", garbage)
    assert_refused(
        result, f"cannot load the 'clip' feature space's weights from {garbage}", "replace it"
    )
    hub = tiny_dinov2_hub(tmp_path / "hub")
    checkpoint = hub / "checkpoints" / "dinov2_vits14_pretrain.pth"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])  # a truncated download
    space = "dinov2-vit-s-14"
    result = bench(*image_files(tmp_path), "--feature-space", space, "--dinov2-weights", hub)
    assert_refused(
        result,
        f"cannot load the '{space}' feature space's weights from {hub}",
        "checkpoints/dinov2_vits14_pretrain.pth",
    )


def test_hub_at_leaves_an_unset_torch_hub_unset(tmp_path: Path, monkeypatch) -> None:
    """After loading DINOv2 from a hub directory, torch hub follows $TORCH_HOME again instead of
    staying pinned to the path it resolved to before."""
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    with hub_at(tmp_path):
        assert torch.hub.get_dir() == str(tmp_path)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    assert torch.hub.get_dir() == str(tmp_path / "home" / "hub")
