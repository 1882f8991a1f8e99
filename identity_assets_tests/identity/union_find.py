"""A plain union-find: the independent reference the graph code is compared with."""

from __future__ import annotations

from collections.abc import Hashable, Iterable


class UnionFind:
    """Disjoint sets with path halving; `groups` gives the partition."""

    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, item: Hashable) -> Hashable:
        while self.parent.setdefault(item, item) != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union_all(self, items: Iterable[Hashable]) -> None:
        """Put all `items` (seen together, say in one event) into one set."""
        items = list(items)
        for item in items:
            self.parent[self.find(item)] = self.find(items[0])

    def groups(self) -> set[frozenset]:
        found: dict[Hashable, set] = {}
        for item in self.parent:
            found.setdefault(self.find(item), set()).add(item)
        return {frozenset(group) for group in found.values()}
