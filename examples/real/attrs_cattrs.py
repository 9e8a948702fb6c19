"""attrs classes with validators and converters, and a cattrs converter with hooks registered at
start-up, structuring and unstructuring nested data. Needs: attrs, cattrs."""
from datetime import UTC, datetime
from enum import Enum

import attrs
import cattrs
from attrs import define, field, validators


class Unit(Enum):
    C = "celsius"
    F = "fahrenheit"


@define(frozen=True)
class Reading:
    sensor: str = field(validator=validators.matches_re(r"[a-z]+-\d+"))
    value: float = field(converter=float)
    unit: Unit = Unit.C
    taken: datetime = datetime(2024, 1, 1, tzinfo=UTC)

    def in_celsius(self):
        return self.value if self.unit is Unit.C else round((self.value - 32) * 5 / 9, 2)


@define
class Station:
    name: str
    readings: list[Reading] = field(factory=list)
    tags: tuple[str, ...] = field(default=(), converter=lambda t: tuple(sorted(t)))

    @property
    def mean(self):
        return round(sum(r.in_celsius() for r in self.readings) / len(self.readings), 2)


converter = cattrs.Converter()
converter.register_structure_hook(datetime, lambda s, _: datetime.fromisoformat(s))
converter.register_unstructure_hook(datetime, datetime.isoformat)

RAW = {"name": "roof", "tags": ["outdoor", "north"], "readings": [
    {"sensor": "temp-1", "value": "21.5"},
    {"sensor": "temp-2", "value": 70.7, "unit": "fahrenheit", "taken": "2024-03-01T12:00:00+00:00"},
]}

if __name__ == "__main__":
    station = converter.structure(RAW, Station)
    print(station)
    print(station.mean, attrs.fields_dict(Reading)["value"].converter is float)
    print(converter.unstructure(station))
    print(attrs.evolve(station.readings[0], value=25).in_celsius())
    for bad in [{"sensor": "Temp", "value": 1}, {"sensor": "t-1", "value": "hot"}]:
        try:
            converter.structure(bad, Reading)
        except Exception as e:
            print(type(e).__name__, [type(x).__name__ for x in getattr(e, "exceptions", [e])])
