"""The fast JSON row encoder writes exactly what the reference conversion writes, on random rows."""

from __future__ import annotations

import io
import json
import sys

from google.protobuf import any_pb2
from hypothesis import given, settings
from hypothesis import strategies as st

from pybaton import model
from pybaton.cli import outputs
from pybaton.cli.json_rows import RowEncoder, reference_text, stream_json
from pybaton.pb.baton.v1 import outputs_pb2
from pybaton.pb.c1.connector.v2 import resource_pb2

text = st.text(max_size=8) | st.sampled_from(["", "u1", "名前", "quote\"s", "back\\slash", "\x00\x1f", "😀"])
profile_values = st.one_of(text, st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                           st.booleans(), st.none())
profiles = st.none() | st.dictionaries(text, profile_values, max_size=3)


@st.composite
def resources(draw: st.DrawFn, type_id: str) -> resource_pb2.Resource:
    rt = model.resource_type(type_id, draw(text), traits=draw(st.lists(st.sampled_from(["user", "group"]),
                                                                        max_size=2)))
    traits = []
    if draw(st.booleans()):
        traits.append(model.user_trait(emails=draw(st.lists(text, max_size=2)), login=draw(text),
                                       profile=draw(profiles)))
    if draw(st.booleans()):
        traits.append(model.group_trait(profile=draw(profiles)))
    res = model.resource(rt, draw(text), draw(text), description=draw(text), traits=traits,
                         external_id=draw(text))
    if draw(st.booleans()):  # an annotation of a type this build does not know: dropped, as Go drops it
        res.annotations.append(any_pb2.Any(type_url="type.googleapis.com/acme.Unknown", value=b"\x08\x01"))
    return res


@st.composite
def grant_rows(draw: st.DrawFn) -> outputs_pb2.GrantOutput:
    principal = draw(resources("user"))
    res = draw(resources("group"))
    rt = model.resource_type("group", draw(text), traits=["group"])
    ent = model.entitlement(res, draw(text) or "member", grantable_to=[rt] if draw(st.booleans()) else [],
                            description=draw(text))
    grant = model.grant(ent, principal, expandable=draw(st.lists(text, max_size=2)))
    row = outputs_pb2.GrantOutput()
    for name, part in (("grant", grant), ("entitlement", ent), ("resource", res), ("resource_type", rt),
                       ("principal", principal)):
        if draw(st.integers(0, 9)):  # now and then a part is missing
            getattr(row, name).CopyFrom(part)
    return row


@settings(max_examples=300, deadline=None)
@given(st.lists(grant_rows(), min_size=1, max_size=4))
def test_encoder_equals_reference(rows: list[outputs_pb2.GrantOutput]) -> None:
    encoder = RowEncoder()
    for row in rows + rows:  # the second pass is served from the encoder's cache
        expected = reference_text(outputs_pb2.GrantOutput.FromString(row.SerializeToString()))
        assert encoder.encode(outputs_pb2.GrantOutput.FromString(row.SerializeToString())) == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(grant_rows(), max_size=3))
def test_stream_equals_the_whole_document(rows: list[outputs_pb2.GrantOutput]) -> None:
    captured = io.StringIO()
    saved, sys.stdout = sys.stdout, captured
    try:
        stream_json("grants", [outputs_pb2.GrantOutput.FromString(r.SerializeToString()) for r in rows])
    finally:
        sys.stdout = saved
    whole = outputs_pb2.GrantListOutput()
    whole.grants.extend(rows)
    assert captured.getvalue() == reference_text(whole) + "\n"
    assert json.loads(captured.getvalue()) == json.loads(reference_text(whole))


@settings(max_examples=100, deadline=None)
@given(st.lists(grant_rows(), min_size=1, max_size=4))
def test_grant_parts_encode_like_the_row(rows: list[outputs_pb2.GrantOutput]) -> None:
    """The listing's path: shared looked-up objects, no GrantOutput built, same text."""
    encoder = RowEncoder()
    shared = {}  # the looked-up objects repeat across rows, as Lookups hands them out
    for row in rows + rows:
        parts = (row.grant, *(shared.setdefault((name, getattr(row, name).SerializeToString()), getattr(row, name))
                              for name in ("entitlement", "resource", "resource_type", "principal")))
        expected = reference_text(outputs.grant_output(parts))  # type: ignore[arg-type]
        assert encoder.grant_output(parts) == expected  # type: ignore[arg-type]
