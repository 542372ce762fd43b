"""A synthetic Kazakhstan for tests and demos: people, registrations, precincts, elections."""

from service.datagen.generate import ELECTIONS, GenerationSummary, generate_country
from service.datagen.people import PERSON_CATEGORIES, SAMPLE_CATEGORIES

__all__ = [
    "ELECTIONS",
    "PERSON_CATEGORIES",
    "SAMPLE_CATEGORIES",
    "GenerationSummary",
    "generate_country",
]
