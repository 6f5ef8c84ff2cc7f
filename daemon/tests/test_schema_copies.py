"""The packaged schemas are the protocol's, byte for byte."""

from pathlib import Path

import pytest

from taskdaemond.schemas import SCHEMA_FILES

PROTOCOL_SCHEMAS = Path(__file__).resolve().parents[2] / "protocol" / "schema"
PACKAGED_SCHEMAS = Path(__file__).resolve().parents[1] / "src" / "taskdaemond" / "schema"


@pytest.mark.parametrize("name", SCHEMA_FILES)
def test_packaged_schema_is_a_byte_identical_copy_of_the_protocol_schema(name: str) -> None:
    assert (PACKAGED_SCHEMAS / name).read_bytes() == (PROTOCOL_SCHEMAS / name).read_bytes(), (
        f"daemon/src/taskdaemond/schema/{name} differs from protocol/schema/{name}: copy it again"
    )


def test_every_protocol_schema_is_packaged() -> None:
    assert sorted(p.name for p in PROTOCOL_SCHEMAS.glob("*.json")) == sorted(SCHEMA_FILES)
