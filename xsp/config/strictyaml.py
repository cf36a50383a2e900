"""YAML as a configuration may use it: no anchors or aliases, no key twice.

A hand-edited ``config.yaml`` is read with this loader. Aliases are refused at their
first use, before anything is expanded, so an alias bomb costs nothing; a key written
twice is refused with both lines, where plain YAML would keep the last one silently.
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from xsp.config.model import show

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictYAMLError(yaml.YAMLError):
    def __init__(self, line: int, problem: str) -> None:
        super().__init__(problem)
        self.line = line
        self.problem = problem


class StrictLoader(_Base):  # type: ignore[misc, valid-type]
    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # The composer hands an alias back as the node it names: meeting a node that
        # was already built is exactly an alias.
        if node in self.constructed_objects or node in self.recursive_objects:
            raise StrictYAMLError(node.start_mark.line + 1,
                                  "YAML anchors and aliases (&name, *name) are not accepted; "
                                  "write each value out")
        return super().construct_object(node, deep)

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, ScalarNode):
                continue
            seen = first.get((key.tag, key.value))
            if seen is not None:
                raise StrictYAMLError(key.start_mark.line + 1,
                                      f"duplicate key {show(key.value)} (first at line {seen}); "
                                      "each setting may appear once")
            first[(key.tag, key.value)] = key.start_mark.line + 1
        return super().construct_mapping(node, deep)

    def construct_bounded_int(self, node: ScalarNode) -> int:
        try:
            return self.construct_yaml_int(node)
        except ValueError:  # Python's limit on converting long digit strings
            raise StrictYAMLError(node.start_mark.line + 1,
                                  f"a number of {len(node.value)} digits is too long") from None


StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_bounded_int)


def load(text: str) -> Any:
    return yaml.load(text, Loader=StrictLoader)
