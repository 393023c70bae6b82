"""A section's rows (e.g. training stability) grouped by model family, each group with the keys
its rows have: a GAN's discriminator gap means nothing for an autoencoder. The one grouping that
leaderboard.md and the HTML report both show."""

from __future__ import annotations

from dataclasses import dataclass

from bench.results.aggregate import Leaderboard, Row

FAMILIES = {  # a model's declared family -> its heading, in the order the tables come
    "gan": "GANs",
    "autoencoder": "Autoencoders",
    "diffusion": "Diffusion models",
    "flow": "Normalizing flows",
    "autoregressive": "Autoregressive models",
}
UNKNOWN = "unknown"  # a model no longer registered (a plugin gone), or samples measured alone
HEADINGS = {**FAMILIES, UNKNOWN: "Models not registered here"}


@dataclass(frozen=True)
class FamilyTable:
    family: str
    heading: str  # e.g. "GANs"
    keys: list[str]  # the section's keys some row of the family has, in the section's order
    rows: list[Row]  # in leaderboard order


def family_of(row: Row) -> str:
    """A row's model family, as its registered model declares it."""
    from bench.models import MODELS  # the registry imports every model: only when asked

    return MODELS.get(row.model_name).family if row.model_name in MODELS else UNKNOWN


def family_tables(board: Leaderboard, dataset: str, section: str) -> list[FamilyTable]:
    """The rows of `dataset`, one table per family (in FAMILIES order, others after), each with
    those of `section`'s keys its rows have; a family with none of them has no table."""
    rows = [r for r in board.rows if r.dataset == dataset]
    families = {row.model_name: family_of(row) for row in rows}
    found = dict.fromkeys(families[r.model_name] for r in rows)
    order = [f for f in FAMILIES if f in found] + [f for f in found if f not in FAMILIES]
    tables = []
    for family in order:
        members = [r for r in rows if families[r.model_name] == family]
        keys = [k for k in board.sections.get(section, {}) if any(k in r.values for r in members)]
        if keys:
            tables.append(FamilyTable(family, HEADINGS.get(family, family), keys, members))
    return tables
