"""The extraction stage: chunk answers from the LLM merged into one grounded page result."""

from scraper.extraction.extractor import Extractor, PageExtraction, split_text
from scraper.extraction.grounding import PageText, ground
from scraper.extraction.mapping import graph_from_model
from scraper.extraction.merge import merge_entities, merge_models, merge_relations

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
