"""Reduce a GraphQL SDL to its machine-checkable facts: the vendor's descriptions are dropped.

Types, fields, arguments, default values, enums, input objects, non-null and list wrappers,
interfaces, unions and directives (with their arguments, such as ``@deprecated(reason:)``) are
kept, in the source's order. ``#`` comments go too. The output is deterministic, and reducing a
reduced file gives it back unchanged.

Run: ``python specs/reduce.py SOURCE.graphql > specs/shopify/2026-01.schema.graphql``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from graphql import Visitor, parse, print_ast, visit


class _DropDescriptions(Visitor):
    """Replaces every described definition with a copy that has no ``description``."""

    def leave(self, node: Any, *_: Any) -> Any:
        if getattr(node, "description", None) is None:
            return None  # keep the node as it is
        return replace(node, description=None)


def reduce_sdl(source: str) -> str:
    """The SDL ``source`` without descriptions or comments, ending in one newline."""
    document = parse(source, no_location=True)
    document = visit(document, _DropDescriptions())
    return print_ast(document) + "\n"


def main(argv: list[str]) -> int:
    """Print the reduction of the SDL file named by ``argv[1]``."""
    if len(argv) != 2:
        print(f"usage: python {argv[0]} SOURCE.graphql > REDUCED.graphql", file=sys.stderr)
        return 2
    sys.stdout.write(reduce_sdl(Path(argv[1]).read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
