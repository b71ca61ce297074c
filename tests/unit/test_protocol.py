"""Unit tests of the wire contract: Resources arithmetic and forms, RecordIO framing."""

import pytest

from dcos.protocol import recordio
from dcos.protocol.mesos import new_status_uuid, valid_status_uuid
from dcos.protocol.resources import ResourceError, Resources


def test_parse_and_format_round_trip():
    r = Resources.parse("cpus:24;mem:4096;disk:4096;ports:[31000-32000]")
    assert r.scalar("cpus") == 24
    assert str(r) == "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"
    assert Resources.parse(str(r)) == r


def test_subtraction_and_containment_of_ranges():
    total = Resources.parse("cpus:2;ports:[31000-31010]")
    used = Resources.parse("cpus:0.5;ports:[31002-31003]")
    left = total - used
    assert str(left) == "cpus:1.5;ports:[31000-31001, 31004-31010]"
    assert not left.contains(used)
    assert (left + used) == total


def test_scalars_are_fixed_point():
    r = Resources.parse("cpus:0.1") + Resources.parse("cpus:0.2")
    assert (r - Resources.parse("cpus:0.3")).is_empty()


def test_mesos_json_round_trip_tolerates_unknown_keys():
    r = Resources.parse("cpus:1;mem:128;ports:[31000-31001]")
    items = r.to_mesos(allocation_role="*")
    items[0]["reservations"] = []
    assert Resources.from_mesos(items) == r
    assert r.to_summary()["ports"] == "[31000-31001]"


@pytest.mark.parametrize(
    "bad",
    [[{"name": "cpus", "type": "SCALAR"}], [{"type": "SCALAR"}], "cpus", [{"name": "x", "type": "Q"}],
     [{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}]],
)
def test_bad_mesos_json_is_a_resource_error(bad):
    with pytest.raises(ResourceError):
        Resources.from_mesos(bad)


def test_bad_text_is_a_resource_error():
    for bad in ("cpus", "cpus:x", "ports:[1-", "ports:[5-1]"):
        with pytest.raises(ResourceError):
            Resources.parse(bad)


def test_recordio_decoder_handles_split_chunks():
    stream = recordio.encode(b'{"a":1}') + recordio.encode(b"") + recordio.encode(b"xyz")
    dec = recordio.Decoder()
    got = []
    for i in range(len(stream)):
        got += dec.feed(stream[i : i + 1])
    assert got == [b'{"a":1}', b"", b"xyz"]


def test_recordio_rejects_garbage():
    with pytest.raises(recordio.RecordIOError):
        recordio.Decoder().feed(b"abc\n")


def test_status_uuid_is_16_bytes_base64():
    assert valid_status_uuid(new_status_uuid())
    assert not valid_status_uuid("abc")


def test_resources_total_equals_a_chain_of_additions():
    import random

    from dcos.protocol.resources import Resources

    items = [Resources.parse(f"cpus:0.1;mem:32;ports:[{31000 + i}-{31000 + i}]") for i in range(300)]
    items += [Resources.parse("cpus:0.3;gpus:1;zones:{a,b}"), Resources.empty()]
    random.Random(7).shuffle(items)
    chained = Resources.empty()
    for r in items:
        chained = chained + r
    assert Resources.total(items) == chained
    assert Resources.total([]) is Resources.empty()
    assert Resources.total([Resources.empty(), items[0]]) is items[0]
    summary = items[0].to_summary()
    summary["cpus"] = 99.0
    assert items[0].to_summary()["cpus"] != 99.0, "the kept summary is not handed out"
