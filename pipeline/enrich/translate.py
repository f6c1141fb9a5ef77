"""The plug-in point for a machine translation model an operator supplies on disk.

No offline vi→en model ships in any registry package, so tipwatch ships none and downloads none.
An operator who has one sets either variable; the gist (pipeline/enrich/gist.py) then also carries the
machine translation of the title and lead of each Vietnamese article, labelled as such:

- `TIPWATCH_MT_DIR=/opt/models/opus-mt-vi-en-ct2`: a CTranslate2 conversion of a MarianMT/OPUS-MT
  model (`ct2-transformers-converter --model Helsinki-NLP/opus-mt-vi-en --output_dir ...`, run by
  the operator), with its SentencePiece models `source.spm` and `target.spm` in the same folder.
  Needs `pip install ctranslate2 sentencepiece` in the venv (not dependencies of tipwatch).
- `TIPWATCH_TRANSLATOR=package.module:factory`: any Python callable returning an object with
  `name` (str, recorded with each gist) and `translate(texts: list[str]) -> list[str]`.

A translator is loaded once per process; one that fails to load is an error naming the variable
(a misconfigured model must not silently give gists without translations).
"""
from __future__ import annotations

import importlib
from functools import lru_cache
from pathlib import Path
from typing import Protocol

MT_DIR_ENV = "TIPWATCH_MT_DIR"
TRANSLATOR_ENV = "TIPWATCH_TRANSLATOR"


class Translator(Protocol):
    name: str

    def translate(self, texts: list[str]) -> list[str]: ...


class TranslatorError(RuntimeError):
    pass


class CTranslate2Translator:
    """An OPUS-MT model converted to CTranslate2, with its SentencePiece tokenizers."""

    def __init__(self, directory: str | Path):
        try:
            import ctranslate2
            import sentencepiece
        except ImportError as exc:
            raise TranslatorError(f"{MT_DIR_ENV} is set but {exc.name} is not installed "
                                  f"(pip install ctranslate2 sentencepiece)") from None
        directory = Path(directory)
        self.name = f"ctranslate2:{directory.name}"
        self.model = ctranslate2.Translator(str(directory), device="cpu")
        self.source = sentencepiece.SentencePieceProcessor(model_file=str(directory / "source.spm"))
        self.target = sentencepiece.SentencePieceProcessor(model_file=str(directory / "target.spm"))

    def translate(self, texts: list[str]) -> list[str]:
        batch = [self.source.encode(text, out_type=str) for text in texts]
        results = self.model.translate_batch(batch, beam_size=2, max_decoding_length=256)
        return [self.target.decode(result.hypotheses[0]) for result in results]


def _from_factory(spec: str) -> Translator:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise TranslatorError(f"{TRANSLATOR_ENV} must be package.module:factory, not {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise TranslatorError(f"{TRANSLATOR_ENV}={spec}: {exc}") from None
    translator = factory()
    if not callable(getattr(translator, "translate", None)) or not isinstance(getattr(translator, "name", None), str):
        raise TranslatorError(f"{TRANSLATOR_ENV}={spec}: the object has no name and translate(texts)")
    return translator


@lru_cache(maxsize=4)
def load_translator(spec: str, directory: str) -> Translator | None:
    """The translator a factory *spec* (TIPWATCH_TRANSLATOR) or a model *directory*
    (TIPWATCH_MT_DIR) names, once per process; None when neither is given."""
    if spec:
        return _from_factory(spec)
    if directory:
        if not Path(directory).is_dir():
            raise TranslatorError(f"{MT_DIR_ENV}={directory}: no such directory")
        return CTranslate2Translator(directory)
    return None
