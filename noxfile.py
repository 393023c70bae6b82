"""Sessions: `nox -s lint tests` is the CI command; `nox -s quickstart` runs the first suite."""

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

# constraints.txt pins the set known to work here (torch 2.14.1 + torchvision 0.29.1 and friends);
# pyproject.toml keeps ranges so other CUDA builds of torch still install.
CONSTRAINTS = ("-c", "constraints.txt")
ENV = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "RAY_USAGE_STATS_ENABLED": "0"}


@nox.session
def tests(session: nox.Session) -> None:
    session.install(*CONSTRAINTS, "-e", ".[test]")
    session.run("pytest", *session.posargs, env=ENV)


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", "bench", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "bench", "tests", "benchmarks", "noxfile.py")


@nox.session
def quickstart(session: nox.Session) -> None:
    session.install(*CONSTRAINTS, "-e", ".")
    session.run("bench", "run", "suites/quickstart.yaml", *session.posargs, env=ENV)
