"""What every command shares: the Typer app, the consoles, exit codes, option types, and the one
way a user's mistake is printed (one paragraph, no traceback, exit 2)."""

from __future__ import annotations

import functools
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bench.errors import BenchError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="bench: benchmark generative models (autoencoders and GANs) on Ray Tune.",
)


out = Console()


err = Console(stderr=True)


EXIT_TRIALS_FAILED = 1  # the suite ran, but some trials diverged, raised or lost their worker


EXIT_USAGE = 2  # the user's input was wrong; nothing ran


EXIT_INTERRUPTED = 130  # stopped with Ctrl-C (SIGINT): the run folder is marked interrupted


EXIT_NOT_REPRODUCED = 3  # `bench reproduce`: some published value was not reproduced (or missing)


InceptionWeights = Annotated[
    Path | None,
    typer.Option(
        "--inception-weights",
        help="torch-fidelity's InceptionV3 weights file (weights-inception-2015-12-05-"
        "6726825d.pth) for datasets measured in the 'inception' space; same as "
        "$BENCH_INCEPTION_WEIGHTS",
    ),
]


DinoV2Weights = Annotated[
    Path | None,
    typer.Option(
        "--dinov2-weights",
        help="a torch hub directory holding the facebookresearch/dinov2 code "
        "(facebookresearch_dinov2_main/) and checkpoints/dinov2_vit*14_pretrain.pth, for the "
        "'dinov2*' feature spaces; same as $BENCH_DINOV2_WEIGHTS",
    ),
]


ClipWeights = Annotated[
    Path | None,
    typer.Option(
        "--clip-weights",
        help="OpenAI's CLIP weights file (e.g. ViT-L-14-336px.pt) for the 'clip*' feature "
        "spaces; same as $BENCH_CLIP_WEIGHTS",
    ),
]


def use_weights(
    path: Path | None, option: str, env: str, what: str, fix: str, directory: bool = False
) -> None:
    """Point a feature space at user-given weights by setting the variable it reads (checked
    here, so a typo fails before anything starts)."""
    if path is None:
        return
    if not (path.is_dir() if directory else path.is_file()):
        problem = "is not a " + ("directory" if directory else "file")
        raise BenchError(
            f"the {what} {path} {problem if path.exists() else 'does not exist'}",
            where=option,
            fix=fix,
        )
    os.environ[env] = str(path.resolve())


def use_inception_weights(path: Path | None) -> None:
    use_weights(
        path,
        "--inception-weights",
        "BENCH_INCEPTION_WEIGHTS",
        "InceptionV3 weights file",
        "give the path of weights-inception-2015-12-05-6726825d.pth",
    )


def use_pretrained_weights(inception: Path | None, dinov2: Path | None, clip: Path | None) -> None:
    """The three weights options of `bench run` and `bench evaluate`; the variable names are
    the ones bench.metrics.features' inception, dinov2 and clip modules read (not imported
    here: the CLI starts without torch)."""
    use_inception_weights(inception)
    use_weights(
        dinov2,
        "--dinov2-weights",
        "BENCH_DINOV2_WEIGHTS",
        "DINOv2 torch hub directory",
        "give a torch hub directory holding facebookresearch_dinov2_main/hubconf.py and "
        "checkpoints/<model>_pretrain.pth",
        directory=True,
    )
    use_weights(
        clip,
        "--clip-weights",
        "BENCH_CLIP_WEIGHTS",
        "CLIP weights file",
        "give the path of OpenAI's CLIP .pt file for the model the feature space names",
    )


class WandbMode(str, Enum):
    offline = "offline"
    online = "online"
    disabled = "disabled"


class Kind(str, Enum):
    models = "models"
    datasets = "datasets"
    metrics = "metrics"
    feature_spaces = "feature-spaces"


class ListFormat(str, Enum):
    table = "table"
    md = "md"


class BoardFormat(str, Enum):
    table = "table"
    md = "md"
    csv = "csv"


def user_errors(command):
    """Print a BenchError as one paragraph, without a traceback, and exit with EXIT_USAGE."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except BenchError as exc:
            print_error("error", exc)
            raise typer.Exit(EXIT_USAGE) from None

    return wrapper


def print_error(label: str, exc: BenchError) -> None:
    err.print(f"[bold red]{label}:[/bold red] {escape(exc.message())}", highlight=False)


def confirm_size(spec, trials, yes: bool) -> None:
    """Refuse a grid larger than the sanity limit unless the user said --yes."""
    from bench.suite.plan import MAX_TRIALS_WITHOUT_CONFIRM

    if len(trials) > MAX_TRIALS_WITHOUT_CONFIRM and not yes:
        raise BenchError(
            f"{spec.source or spec.name} expands to {len(trials)} trials, more than the sanity "
            f"limit of {MAX_TRIALS_WITHOUT_CONFIRM}",
            fix="check the grid with `bench run --dry-run`, then pass --yes if you mean it",
        )
