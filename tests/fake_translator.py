"""A stand-in for an operator's translation model (pipeline/enrich/translate.py's interface): the real
models cannot run here. It "translates" a few known Vietnamese titles and marks anything else,
so a test can tell its output from the gist's."""

KNOWN = {"Giải cứu 27 công dân bị lừa sang Campuchia": "Rescue of 27 citizens tricked into going to Cambodia"}


class FakeTranslator:
    name = "fake-mt"

    def translate(self, texts: list[str]) -> list[str]:
        return [next((en for vi, en in KNOWN.items() if text.startswith(vi)), f"[en] {text[:40]}") for text in texts]


def make() -> FakeTranslator:
    return FakeTranslator()
