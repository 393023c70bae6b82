"""The one guarded way in for files a user hands bench: samples (.npy/.npz/.pt, a folder of
images), kept models, checkpoints and the JSON files of run folders.

Every failure is a BenchError naming the file, what was found, what was expected and the fix:
missing, unreadable (a folder, no permission), truncated, corrupted, not a zip, a pickle that
torch's safe loader refuses, an object/string/complex/bool array, the wrong rank or shape,
NaN/inf, an empty array, a state dict whose keys or shapes differ from the model's. Nothing here
writes anything. Pickles are never trusted: torch.load always runs with `weights_only=True` and
np.load never with `allow_pickle=True`; what a file holds is parsed by those libraries alone, so
any exception they raise on hostile bytes means the file is broken, and is said so.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import BenchError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ARRAY_KEYS = ("samples", "x", "images", "arr_0")  # tried in order inside an .npz
ARRAY_SUFFIXES = (".npy", ".npz", ".pt")
SAVE_ARRAY = "save the samples as a float or integer array: np.save(path, x), " + (
    "np.savez(path, samples=x) or torch.save(torch.as_tensor(x), path)"
)
RESTORE = "restore the file from a copy, or write it again (it is damaged, or not what bench wrote)"


def refuse(path: Path, found: str, expected: str, fix: str) -> BenchError:
    """The one shape of every refusal here: the file, what it holds, what was expected, the fix."""
    return BenchError(f"{found}; expected {expected}", where=str(path), fix=fix)


def readable(path: Path, what: str, fix: str, folder: bool = False) -> Path:
    """`path` if it exists and is a file (a folder when `folder`) this process may read."""
    path = Path(path)
    if not path.exists():
        raise refuse(path, f"the {what} does not exist", "an existing path", fix)
    if folder and not path.is_dir() and path.suffix.lower() not in ARRAY_SUFFIXES:
        return path
    if not folder and path.is_dir():
        raise refuse(path, f"the {what} is a folder", "a file", fix)
    try:
        if path.is_dir():
            next(path.iterdir(), None)
        else:
            with path.open("rb") as handle:
                handle.read(1)
    except OSError as exc:
        raise refuse(
            path,
            f"the {what} cannot be read ({exc.strerror or exc})",
            "a file this user may read",
            "check its permissions (chmod u+r)",
        ) from None
    return path


def broken(path: Path, what: str, exc: BaseException, fix: str = RESTORE) -> BenchError:
    """A file its library could not parse: say whether it is truncated, not a zip, a pickle the
    safe loader refuses, or otherwise corrupted."""
    text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    lowered = str(exc).lower()
    if "weights only load failed" in lowered or "weights_only" in lowered:
        return refuse(
            path,
            f"the {what} is a pickle that a safe load refuses (torch.load weights_only=True): "
            "it holds Python objects, or its bytes are damaged; bench never runs code from a file",
            "a file of tensors and plain values (torch.save of tensors or a state_dict)",
            "save only tensors, e.g. torch.save(model.state_dict(), path) or "
            "torch.save(torch.as_tensor(x), path)",
        )
    if "allow_pickle" in lowered or "object arrays" in lowered:
        return refuse(
            path,
            f"the {what} holds an object array (Python objects, loadable only by unpickling)",
            "a numeric array",
            SAVE_ARRAY,
        )
    kind = (
        "truncated or not a zip archive"
        if "zip" in lowered or "central directory" in lowered
        else (
            "truncated"
            if isinstance(exc, EOFError) or "eof" in lowered or "truncat" in lowered
            else "corrupted"
        )
    )
    return refuse(
        path, f"the {what} is {kind} ({type(exc).__name__}: {text})", f"a complete {what}", fix
    )


# --- JSON ----------------------------------------------------------------------------------------


def read_json(path: Path, what: str = "JSON file", fix: str = RESTORE) -> dict[str, Any]:
    """A JSON object from `path`; missing, unreadable, invalid JSON or not an object refused."""
    path = readable(path, what, fix)
    try:
        value = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise broken(path, what, exc, fix) from None
    if not isinstance(value, dict):
        raise refuse(
            path, f"the {what} holds a JSON {type(value).__name__}", "a JSON object ({...})", fix
        )
    return value


# --- torch files ---------------------------------------------------------------------------------


def numpy_globals() -> list[Any]:
    """What a safe torch.load may rebuild besides tensors: numpy arrays and their dtypes (a
    trial's checkpoint holds numpy's RNG state). Rebuilding these runs no code of the file's."""
    from numpy._core.multiarray import _reconstruct, scalar

    dtypes = [getattr(np.dtypes, name) for name in dir(np.dtypes) if name.endswith("DType")]
    return [_reconstruct, scalar, np.ndarray, np.dtype, *dtypes]


def load_torch(path: Path, what: str, fix: str = RESTORE, numpy: bool = False) -> Any:
    """What a torch.save file holds, read with weights_only=True (numpy arrays allowed when
    `numpy`); every failure refused naming the file."""
    path = readable(path, what, fix)
    allowed = numpy_globals() if numpy else []
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(allowed):
            # a plain pickle of another protocol makes torch warn before it refuses the file:
            # the refusal below says what is wrong, without torch's advice to file an issue
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the bytes are the user's: any parse failure means a broken file
        raise broken(path, what, exc, fix) from None


def load_state(
    path: Path, what: str = "kept model", fix: str = RESTORE, numpy: bool = False
) -> dict[str, Any]:
    """A torch.save'd mapping (a kept model, a checkpoint's state), read safely."""
    value = load_torch(path, what, fix, numpy)
    if not isinstance(value, Mapping):
        raise refuse(
            path,
            f"the {what} holds a {type(value).__name__}",
            "a mapping (a dict saved with torch.save)",
            fix,
        )
    return dict(value)


def check_state_dict(
    path: Path, what: str, found: Any, expected: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """`found` as a state dict with exactly the keys and shapes of `expected` (the model built
    from the file's config), else a refusal naming the first differences."""
    fix = (
        "the file belongs to another model or config: use the folder it was kept in, or " + RESTORE
    )
    if not isinstance(found, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in found.items()
    ):
        raise refuse(
            path,
            f"the {what}'s state_dict is not a mapping of names to tensors",
            "model.state_dict()",
            fix,
        )
    missing = [k for k in expected if k not in found]
    extra = [k for k in found if k not in expected]
    shapes = [
        f"{k} {tuple(found[k].shape)} (model: {tuple(v.shape)})"
        for k, v in expected.items()
        if k in found and tuple(found[k].shape) != tuple(v.shape)
    ]
    if missing or extra or shapes:
        parts = [
            f"missing {_few(missing)}" if missing else "",
            f"unexpected {_few(extra)}" if extra else "",
            f"shapes differ: {_few(shapes)}" if shapes else "",
        ]
        raise refuse(
            path,
            f"the {what} does not fit the model its config builds: "
            + "; ".join(p for p in parts if p),
            "the keys and shapes of that model",
            fix,
        )
    return dict(found)


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f" (and {len(items) - n} more)" if len(items) > n else "")


# --- arrays of samples ---------------------------------------------------------------------------


def load_array(path: Path, what: str = "samples", ranks: Iterable[int] = (2, 3, 4)) -> np.ndarray:
    """The array of samples at `path` (.npy, .npz, .pt, or a folder of images), checked: numeric
    (integers or floats), of one of `ranks`, not empty, finite."""
    path = readable(path, f"file of {what}", "check the path", folder=True)
    if path.is_dir():
        array = image_folder(path, what)
    else:
        loader = {".npy": _npy, ".npz": _npz, ".pt": _pt}.get(path.suffix.lower())
        if loader is None:
            raise refuse(
                path,
                f"cannot read {what} from '{path.suffix}' files",
                f"one of {', '.join(ARRAY_SUFFIXES)} or a folder of images",
                SAVE_ARRAY,
            )
        array = loader(path, what)
    return check_array(path, what, array, tuple(ranks))


def check_array(path: Path, what: str, array: Any, ranks: tuple[int, ...]) -> np.ndarray:
    x = np.asarray(array)
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)) or (
        x.dtype == np.bool_
    ):
        raise refuse(
            path, f"the {what} are of dtype {x.dtype}", "an integer or float array", SAVE_ARRAY
        )
    if x.ndim not in ranks:
        raise refuse(
            path,
            f"the {what} array has rank {x.ndim} (shape {x.shape})",
            f"rank {' or '.join(map(str, ranks))}: (N, features) points or "
            "(N, C, H, W) / (N, H, W, C) / (N, H, W) images",
            "save one sample per row along the first axis",
        )
    if x.size == 0:
        raise refuse(
            path,
            f"the {what} array is empty (shape {x.shape})",
            "at least one sample",
            "save the samples themselves, not an empty array",
        )
    if np.issubdtype(x.dtype, np.floating):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            raise refuse(
                path,
                f"the {what} hold {bad} NaN or infinite values",
                "finite values",
                "drop or fix the diverged samples before measuring them",
            )
    return x


def _npy(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:  # the user's bytes: any parse failure means a broken file
        raise broken(path, f"file of {what}", exc, SAVE_ARRAY) from None


def _npz(path: Path, what: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            key = next((k for k in ARRAY_KEYS if k in names), None)
            if key is None and len(names) == 1:
                key = names[0]
            if key is None:
                raise refuse(
                    path,
                    f"the {what} archive holds arrays {names} and none is named {list(ARRAY_KEYS)}",
                    "the samples under the key 'samples'",
                    "save the samples under the key 'samples' (np.savez(path, samples=x))",
                )
            return archive[key]
    except BenchError:
        raise
    except Exception as exc:  # the user's bytes: any parse failure means a broken file
        raise broken(path, f"file of {what}", exc, SAVE_ARRAY) from None


def _pt(path: Path, what: str) -> np.ndarray:
    value = load_torch(path, f"file of {what}", SAVE_ARRAY)
    if not isinstance(value, torch.Tensor):
        raise refuse(
            path,
            f"the {what} file holds a {type(value).__name__}",
            "a single tensor",
            "torch.save(torch.as_tensor(x), path)",
        )
    if value.layout != torch.strided or value.is_quantized:
        raise refuse(
            path,
            f"the {what} tensor is {value.layout} / quantized",
            "a dense tensor",
            "save x.to_dense() (or x.dequantize())",
        )
    if value.is_floating_point() and value.dtype not in (torch.float32, torch.float64):
        value = value.float()  # bfloat16 and float16 have no numpy twin bench relies on
    try:
        return value.detach().numpy()
    except (TypeError, RuntimeError) as exc:
        raise refuse(
            path,
            f"the {what} tensor is of dtype {value.dtype} ({exc})",
            "an integer or float tensor",
            SAVE_ARRAY,
        ) from None


def open_image(path: Path, what: str = "image") -> Any:
    """A PIL image, fully decoded (a truncated or corrupted file fails here, named)."""
    from PIL import Image

    path = readable(path, what, "remove the file, or replace it with a readable image")
    try:
        with Image.open(path) as image:
            image.load()
            return image.copy()
    except Exception as exc:  # the user's bytes: any decode failure means a broken image
        raise broken(
            path, what, exc, "remove the file, or replace it with a readable image"
        ) from None


def image_folder(path: Path, what: str) -> np.ndarray:
    try:
        files = sorted(f for f in path.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
    except OSError as exc:
        raise refuse(
            path,
            f"the folder of {what} cannot be read ({exc})",
            "a readable folder",
            "check its permissions (chmod -R u+rX)",
        ) from None
    if not files:
        raise refuse(
            path,
            f"no images ({', '.join(IMAGE_SUFFIXES)}) under the folder",
            f"a folder of image files, or an {'/'.join(ARRAY_SUFFIXES)} array",
            "point at a folder of image files, or at an array of samples",
        )
    arrays = [np.asarray(open_image(f, f"image of the {what}")) for f in files]
    sizes = sorted({a.shape for a in arrays})
    if len(sizes) != 1:
        raise refuse(
            path,
            f"the images under the folder differ in size ({_few([str(s) for s in sizes])})",
            "images of one size and mode",
            "resize them to one size",
        )
    return np.stack(arrays)
