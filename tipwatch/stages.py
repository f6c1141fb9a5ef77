"""What the stages are handed from the configuration: the seeds folder's data files (gazetteer,
glossary, labelled splits), the cache folder, the topic profile and the model in use. The
stages (pipeline/) know no configuration; every command builds these here and passes them down."""
from __future__ import annotations

from pipeline.enrich import EnrichFiles
from pipeline.process import StageSettings
from pipeline.process import stage_settings as read_with
from pipeline.topic.training import ModelFiles
from tipwatch.config import Config


def model_files(config: Config) -> ModelFiles:
    return ModelFiles(labelled_dir=config.seeds_dir / "labelled", cache_dir=config.cache_dir)


def enrich_files(config: Config) -> EnrichFiles:
    return EnrichFiles.of(config.seeds_dir, config.environ)


def stage_settings(config: Config, db) -> StageSettings:
    """What pages are read with (pipeline.process.stage_settings), from the configuration."""
    return read_with(db, config.profile, config.seeds_dir, config.cache_dir, config.environ)
