"""The extraction stage: chunk answers from the LLM merged into one grounded page result."""

from scraper.extract.extractor import Extractor, PageExtraction, split_text
from scraper.extract.grounding import PageText, ground
from scraper.extract.mapping import graph_from_model
from scraper.extract.merge import merge_entities, merge_models, merge_relations

__all__ = [
    "Extractor",
    "PageExtraction",
    "PageText",
    "graph_from_model",
    "ground",
    "merge_entities",
    "merge_models",
    "merge_relations",
    "split_text",
]
