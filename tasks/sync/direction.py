"""Which way a kind moves, given the settings: decided here and nowhere else.

A kind is owned by one side. Its changes on that side are brought to the other; its changes on the
other side are not (e-conomic's version of a product is overwritten by the next Rackbeat change when
Rackbeat owns products, and the other way round). The receiver (which Rackbeat events to queue), the
exporter's polls and the e-conomic -> Rackbeat polls and start-up sync all ask this module.

For the master-data families a setting chooses the owner (`RBSYNC_CUSTOMERS_MASTER`,
`RBSYNC_PRODUCTS_MASTER`); any other kind is owned by the side it can only come from (export-only kinds:
Rackbeat; import-only kinds such as orders and projects: e-conomic). A kind with both ways and no master
setting (groups, units, payment terms) is Rackbeat's: the importer brings one across only as another
record's dependency, and only when Rackbeat lacks it. The receiver computes it once when it starts
(`Directions.of`), so a webhook costs a set lookup; a spec's master family is checked against the settings
that choose it when the registry is built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tasks.entities import REGISTRY
from tasks.entities.base import EntitySpec, MasterData, PollGroup
from tasks.settings import MasterSide, Settings

MASTER_SETTING: Mapping[MasterData, Callable[[Settings], MasterSide]] = {
    "customers": lambda settings: settings.customers_master,
    "products": lambda settings: settings.products_master,
}


def owner(spec: EntitySpec, settings: Settings) -> MasterSide:
    """The side that owns the kind under these settings."""
    if spec.master is not None:
        return MASTER_SETTING[spec.master](settings)
    return "rackbeat" if spec.exports is not None else "economic"


@dataclass(frozen=True)
class Directions:
    """Per kind, whether its changes move Rackbeat -> e-conomic (`exported`) or the other way (`imported`)."""

    exported: frozenset[str]
    imported: frozenset[str]

    @staticmethod
    def of(settings: Settings) -> Directions:
        exported: set[str] = set()
        imported: set[str] = set()
        for kind, spec in REGISTRY.items():
            side = owner(spec, settings)
            if side == "rackbeat" and spec.exports is not None:
                exported.add(kind)
            elif side == "economic" and spec.imports is not None:
                imported.add(kind)
        return Directions(exported=frozenset(exported), imported=frozenset(imported))

    def exports(self, kind: str) -> bool:
        return kind in self.exported

    def exported_specs(self) -> list[EntitySpec]:
        return [spec for kind, spec in REGISTRY.items() if kind in self.exported]

    def imports(self, kind: str) -> bool:
        """Whether e-conomic owns the kind, so its changes are imported (and kept in step) in Rackbeat."""
        return kind in self.imported

    def imported_specs(self, poll: PollGroup | None = None) -> list[EntitySpec]:
        """The kinds e-conomic owns, in registry order; with `poll`, only those that poll reads."""
        return [
            spec
            for kind, spec in REGISTRY.items()
            if kind in self.imported and (poll is None or spec.import_rules.poll == poll)
        ]
