"""Model abilities as Protocols: decided from the class alone, held by exactly the models that
expose the methods, and the small adapter methods (`codes`, `translate_back`) that let the
autoencoders and CycleGAN conform agree with the methods they wrap."""

from __future__ import annotations

import pytest
import torch

from bench.data import DATASETS
from bench.models import MODELS, GenerativeModel
from bench.models.abilities import (
    Encodes,
    Reconstructs,
    SamplesCodes,
    Translates,
    Variational,
    members,
    missing,
)

VAES = {"vae", "beta_vae", "cvae"}
ABILITIES = (Encodes, Reconstructs, Variational, SamplesCodes, Translates)


def abilities(cls: type) -> set[str]:
    return {ability.__name__ for ability in ABILITIES if issubclass(cls, ability)}


def expected(name: str, cls: type[GenerativeModel]) -> set[str]:
    if name == "cyclegan":
        return {"Translates"}
    if cls.family != "autoencoder":
        return set()
    autoencoder = {"Encodes", "Reconstructs", "SamplesCodes"}
    return autoencoder | {"Variational"} if name in VAES else autoencoder


@pytest.mark.parametrize("name", MODELS.names())
def test_every_model_has_exactly_the_abilities_of_its_kind(name: str) -> None:
    cls = MODELS.get(name)
    assert abilities(cls) == expected(name, cls)


def test_members_and_what_a_class_lacks() -> None:
    assert members(Variational) == ["encode", "neg_elbo", "elbo", "importance_nll"]
    assert members(Translates) == ["translate", "translate_back"]
    ae = MODELS.get("ae")
    assert missing(Variational, ae) == ["neg_elbo", "elbo", "importance_nll"]
    assert missing(Reconstructs, ae) == []
    assert missing(SamplesCodes, MODELS.get("gan")) == ["sample_codes", "decode"]


def build(name: str, dataset: str, **hparams: object) -> GenerativeModel:
    torch.manual_seed(0)
    cls = MODELS.get(name)
    return cls(cls.HParams(**hparams), DATASETS.get(dataset)().info)


@pytest.mark.parametrize(
    ("name", "hparams"),
    [("ae", {"hidden": 16, "layers": 1}), ("pca", {"latent_dim": 3})],
)
def test_codes_of_an_autoencoder_are_its_encoding_without_gradients(name, hparams) -> None:
    m = build(name, "digits", **hparams)
    x = torch.rand(5, 1, 8, 8)
    codes = m.codes(x)
    with torch.no_grad():
        assert torch.equal(codes, m.encode(x))
    assert not codes.requires_grad and m.training


def test_codes_of_a_vae_are_its_posterior_means_given_the_labels() -> None:
    m = build("cvae", "digits", hidden=16, layers=1)
    m.train()
    x, y = torch.rand(4, 1, 8, 8), torch.tensor([0, 1, 2, 3])
    codes = m.codes(x, y)
    with torch.no_grad():
        m.eval()
        assert torch.equal(codes, m.encode(x, y)[0])
        assert not torch.equal(codes, m.encode(x, torch.zeros(4, dtype=torch.long))[0])


def test_cyclegan_translates_both_ways_and_its_cycle_is_the_round_trip() -> None:
    m = build("cyclegan", "mnist_pairs", channels=4, res_blocks=1).eval()
    a, b = torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(m.translate_back(b), m.generators["ba"](b))
        a_rec, b_rec = m.cycle_reconstruct(a, b)
        assert torch.equal(a_rec, m.translate_back(m.translate(a)))
        assert torch.equal(b_rec, m.translate(m.translate_back(b)))
