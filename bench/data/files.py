"""Datasets read from files on disk through torchvision: CIFAR-10, MNIST and a folder of images.

Nothing downloads unless a suite sets `download: true`. Files that are missing (or fail
torchvision's checksums) raise a BenchError naming the expected path and how to fix it, before
any trial trains. `root` is a folder path, relative to the working directory unless absolute.

CIFAR-10 and MNIST keep their official split by default (`heldout: test`): the training set
trains and the test set is the held-out split. `heldout: random` follows the bench convention
instead: the test set is not used and `heldout_fraction` of the training set, drawn with
`data_seed`, is held out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.error import URLError

import torch
from pydantic import Field

from bench.data.base import DATASETS, DataInfo, Dataset, DatasetParams, DataSplits, EvalSpec, split
from bench.errors import BenchError
from bench.userfiles import open_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class FileParams(DatasetParams):
    root: str = Field(description="the folder holding the files (or receiving the download)")
    download: bool = Field(
        False, description="fetch the files into root when missing (needs internet access)"
    )


class OfficialSplitParams(FileParams):
    heldout: Literal["test", "random"] = Field(
        "test",
        description="test: the official test set is held out; random: heldout_fraction of the "
        "training set, drawn with data_seed",
    )


def _root(params: FileParams) -> Path:
    return Path(params.root).expanduser()


def is_image(path: str) -> bool:
    return path.lower().endswith(IMAGE_SUFFIXES)


def read_image(path: str) -> Any:
    """One image of an image folder as RGB, decoded by bench.userfiles (a broken file is a
    BenchError naming it; the grey-scale transform runs after)."""
    return open_image(Path(path), "image of the image folder").convert("RGB")


def missing_files(folder: Path, names: list[str]) -> list[str]:
    return [name for name in names if not (folder / name).is_file()]


def _absent(name: str, folder: Path, missing: list[str]) -> BenchError:
    listed = ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
    return BenchError(
        f"dataset '{name}' is not on disk: {folder} lacks {listed}",
        where=str(folder),
        fix="set `download: true` in the dataset's params on a machine with internet access, or "
        "point `root` at a folder that already holds a copy",
    )


class TorchvisionDataset(Dataset):
    """A torchvision dataset class whose files live under `root`, with its official split."""

    Params = OfficialSplitParams
    params: OfficialSplitParams
    name: ClassVar[str]

    def torchvision_class(self) -> Any:
        raise NotImplementedError

    def file_folder(self, cls: Any) -> Path:
        """Where torchvision expects the files."""
        raise NotImplementedError

    def file_names(self, cls: Any) -> list[str]:
        raise NotImplementedError

    def to_tensor(self, data: Any) -> torch.Tensor:
        """torchvision's uint8 array -> float (N, C, H, W) in [0, 1]."""
        raise NotImplementedError

    def open(self, train: bool) -> Any:
        cls = self.torchvision_class()
        root = _root(self.params)
        folder = self.file_folder(cls)
        missing = missing_files(folder, self.file_names(cls))
        if missing and not self.params.download:
            raise _absent(self.name, folder, missing)
        try:
            return cls(str(root), train=train, download=self.params.download)
        except (URLError, OSError) as exc:
            raise BenchError(
                f"downloading dataset '{self.name}' into {root} failed: {exc}",
                where=str(root),
                fix="check the internet connection, or copy the files there and set "
                "`download: false`",
            ) from None
        except RuntimeError as exc:  # torchvision's "not found or corrupted" (checksums)
            raise BenchError(
                f"dataset '{self.name}' at {folder} fails torchvision's integrity check ({exc})",
                where=str(folder),
                fix="the copy is incomplete or corrupted: delete the folder and set "
                "`download: true`, or copy a complete set of the original files there",
            ) from None

    def load(self) -> DataSplits:
        train = self.open(train=True)
        x, y = self.to_tensor(train.data), torch.as_tensor(train.targets, dtype=torch.long)
        if self.params.heldout == "random":
            return split(x, y, self.params)
        test = self.open(train=False)
        return DataSplits(
            train=x,
            heldout=self.to_tensor(test.data),
            train_labels=y,
            heldout_labels=torch.as_tensor(test.targets, dtype=torch.long),
        )


class Cifar10Params(OfficialSplitParams):
    root: str = Field("data/cifar10", description="folder holding cifar-10-batches-py/")


@DATASETS.register("cifar10")
class Cifar10(TorchvisionDataset):
    description = (
        "CIFAR-10 via torchvision: 50,000 train / 10,000 test colour images, 32x32, 10 classes "
        "(files under root; download: true fetches them)"
    )
    name = "cifar10"
    Params = Cifar10Params
    params: Cifar10Params

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            shape=(3, 32, 32), kind="image", value_range=(0.0, 1.0), num_classes=10, levels=256
        )

    @property
    def eval_spec(self) -> EvalSpec:
        return EvalSpec(feature_space="inception")

    def torchvision_class(self) -> Any:
        from torchvision.datasets import CIFAR10

        return CIFAR10

    def file_folder(self, cls: Any) -> Path:
        return _root(self.params) / cls.base_folder

    def file_names(self, cls: Any) -> list[str]:
        return [name for name, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]

    def to_tensor(self, data: Any) -> torch.Tensor:
        # torchvision holds (N, H, W, C) uint8
        return torch.as_tensor(data).permute(0, 3, 1, 2).float().div(255.0).contiguous()


class MnistParams(OfficialSplitParams):
    root: str = Field("data/mnist", description="folder holding MNIST/raw/")


@DATASETS.register("mnist")
class Mnist(TorchvisionDataset):
    description = (
        "MNIST via torchvision: 60,000 train / 10,000 test digits, 28x28 grey-scale, 10 classes "
        "(files under root; download: true fetches them)"
    )
    name = "mnist"
    Params = MnistParams
    params: MnistParams

    @property
    def info(self) -> DataInfo:
        return DataInfo(
            shape=(1, 28, 28), kind="image", value_range=(0.0, 1.0), num_classes=10, levels=256
        )

    @property
    def eval_spec(self) -> EvalSpec:
        return EvalSpec(feature_space="classifier", num_modes=10)  # modes = predicted digits

    def torchvision_class(self) -> Any:
        from torchvision.datasets import MNIST

        return MNIST

    def file_folder(self, cls: Any) -> Path:
        return _root(self.params) / cls.__name__ / "raw"

    def file_names(self, cls: Any) -> list[str]:
        # the unpacked idx files torchvision reads (the .gz archives are only for download)
        return [Path(archive).stem for archive, _ in cls.resources]

    def to_tensor(self, data: Any) -> torch.Tensor:
        return torch.as_tensor(data).unsqueeze(1).float().div(255.0).contiguous()


class ImageFolderParams(FileParams):
    root: str = Field("data/images", description="a folder of class subfolders of images")
    download: Literal[False] = Field(False, description="image folders cannot be downloaded")
    image_size: int = Field(64, ge=4, description="images are resized and centre-cropped to this")
    channels: Literal[1, 3] = Field(3, description="1 (grey-scale) or 3 (RGB)")


@DATASETS.register("image_folder")
class ImageFolderDataset(Dataset):
    description = (
        "a folder of class subfolders of PNG/JPEG images (torchvision ImageFolder), resized to "
        "image_size; held out by heldout_fraction"
    )
    Params = ImageFolderParams
    params: ImageFolderParams

    @property
    def info(self) -> DataInfo:
        size = self.params.image_size
        # classes are only known once the folder is read, so no labels are promised here
        return DataInfo(
            shape=(self.params.channels, size, size), kind="image", value_range=(0.0, 1.0)
        )

    @property
    def eval_spec(self) -> EvalSpec:
        return EvalSpec(feature_space="inception")

    def load(self) -> DataSplits:
        from torchvision import transforms
        from torchvision.datasets import ImageFolder

        root = _root(self.params)
        if not root.is_dir():
            raise BenchError(
                f"image folder {root} does not exist",
                where=str(root),
                fix="point `root` at a folder of class subfolders of PNG/JPEG images, e.g. "
                "root/cats/001.png",
            )
        steps = [
            transforms.Resize(self.params.image_size),
            transforms.CenterCrop(self.params.image_size),
        ]
        if self.params.channels == 1:
            steps.append(transforms.Grayscale(1))
        steps.append(transforms.ToTensor())
        try:
            folder = ImageFolder(
                str(root),
                transform=transforms.Compose(steps),
                loader=read_image,
                is_valid_file=is_image,
            )
        except FileNotFoundError as exc:  # no class subfolders, or none holds an image
            raise BenchError(
                f"image folder {root} holds no images in class subfolders ({exc})",
                where=str(root),
                fix="put the images in subfolders of root (one per class, or a single one), "
                f"with suffixes {', '.join(IMAGE_SUFFIXES)}",
            ) from None
        if len(folder) < 2:
            raise BenchError(
                f"image folder {root} holds {len(folder)} image; a train and a held-out split "
                "need at least 2",
                where=str(root),
                fix="add images",
            )
        x = torch.stack([image for image, _ in folder])
        return split(x, None, self.params)
