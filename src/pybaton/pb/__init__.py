"""Protobuf messages wire-compatible with Baton (c1.connector.v2, c1.c1z.v1, c1.reader.v2, baton.v1).

The ``*_pb2`` modules below are generated from ``proto/`` by ``make proto``
(``scripts/gen-proto.sh``) and committed; do not edit them by hand.
"""
