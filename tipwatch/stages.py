"""What the stages are handed from the configuration: the seeds folder's data files (gazetteer,
glossary, labelled splits), the cache folder, the topic profile and the model in use. The
stages (pipeline/) know no configuration; every command builds these here and passes them down."""
from __future__ import annotations

from pipeline.enrich import EnrichFiles
from pipeline.process import StageSettings
from pipeline.topic.training import ModelFiles, active_model_path
from tipwatch.config import Config


def model_files(config: Config) -> ModelFiles:
    return ModelFiles(labelled_dir=config.seeds_dir / "labelled", cache_dir=config.cache_dir)


def enrich_files(config: Config) -> EnrichFiles:
    return EnrichFiles.of(config.seeds_dir, config.environ)


def stage_settings(config: Config, db) -> StageSettings:
    """The profile, the model in use in *db* (a trained one, else the base model) and the
    enrichment files, as a crawl reads pages with them."""
    return StageSettings(profile=str(config.profile), model=str(active_model_path(db, model_files(config))),
                         enrich=enrich_files(config))
