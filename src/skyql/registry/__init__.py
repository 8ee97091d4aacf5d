"""The provider model and its loader: the single source of truth for names, parameters and types."""

from skyql.registry.loader import Provider, Registry, split_name
from skyql.registry.model import Column, Method, Param, Resource, Service, type_word

__all__ = [
    "Column",
    "Method",
    "Param",
    "Provider",
    "Registry",
    "Resource",
    "Service",
    "split_name",
    "type_word",
]
