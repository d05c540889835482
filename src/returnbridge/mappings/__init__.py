"""Declarative mappings: vendor-native payloads turned into canonical returns.

A mapping (YAML) names, per canonical field, a JMESPath expression or a constant and an optional
named transform. `load_mapping` reads and checks one; `apply_mapping` runs it on a payload.
"""

from returnbridge.mappings.apply import apply_mapping
from returnbridge.mappings.errors import FieldIssue, MappingError, MappingSpecError
from returnbridge.mappings.spec import MappingSpec, load_mapping, parse_mapping

__all__ = [
    "FieldIssue",
    "MappingError",
    "MappingSpec",
    "MappingSpecError",
    "apply_mapping",
    "load_mapping",
    "parse_mapping",
]
