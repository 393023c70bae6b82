"""Sessions: `nox -s lint tests` is the CI command; `nox -s unit` is the fast part of the tests
(no Ray runs, no learning checks); `nox -s quickstart` runs the first suite."""

import os
import shutil

import nox
import nox.command

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

# constraints.txt pins the set known to work here (torch 2.14.1 + torchvision 0.29.1 and friends);
# pyproject.toml keeps ranges so other CUDA builds of torch still install.
CONSTRAINTS = ("-c", "constraints.txt")
ENV = {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "RAY_USAGE_STATS_ENABLED": "0"}


@nox.session
def tests(session: nox.Session) -> None:
    session.install(*CONSTRAINTS, "-e", ".[test]")
    ensure_chromium(session)
    session.run("pytest", *session.posargs, env=ENV)


@nox.session
def unit(session: nox.Session) -> None:
    """The fast part of the suite (about a minute): no Ray runs, no learning checks."""
    session.install(*CONSTRAINTS, "-e", ".[test]")
    session.run("pytest", "-m", "not slow and not ray", *session.posargs, env=ENV)


def ensure_chromium(session: nox.Session) -> None:
    """The HTML report's browser test needs a headless chromium: a Debian CI machine (root,
    apt-get) gets Debian's package (about 80 s with apt-get update); anywhere else the test skips
    itself, saying why."""
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if not shutil.which("apt-get") or getattr(os, "geteuid", lambda: -1)() != 0:
        session.log("no chromium, and no apt-get as root: the report's browser test will skip")
        return
    apt = {"env": {"DEBIAN_FRONTEND": "noninteractive"}, "external": True, "silent": True}
    try:
        session.run("apt-get", "update", "-qq", **apt)
        session.run("apt-get", "install", "-y", "-qq", "chromium", **apt)
    except nox.command.CommandFailed:
        session.warn("apt-get could not install chromium: the report's browser test will skip")


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*CONSTRAINTS, "ruff")
    session.run("ruff", "check", "bench", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "bench", "tests", "benchmarks", "noxfile.py")


@nox.session
def quickstart(session: nox.Session) -> None:
    session.install(*CONSTRAINTS, "-e", ".")
    session.run("bench", "run", "suites/quickstart.yaml", *session.posargs, env=ENV)
