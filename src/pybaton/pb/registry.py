"""Register every generated protobuf file in the default descriptor pool.

``google.protobuf.Any`` payloads are resolved by type URL
(``type.googleapis.com/c1.connector.v2.UserTrait``) through the default pool,
e.g. by ``json_format.MessageToDict``. A message type is only in that pool once
its ``*_pb2`` module has been imported, so call :func:`ensure_registered` before
decoding or printing annotations.

Keep the list in step with ``proto/`` (tests/test_pb_wire.py checks it).
"""

from __future__ import annotations


_registered = False


def ensure_registered() -> None:
    """Import every generated ``*_pb2`` module (free after the first call)."""
    global _registered
    if _registered:
        return
    from pybaton.pb.baton.v1 import outputs_pb2  # noqa: F401
    from pybaton.pb.c1.c1z.v1 import annotation_sync_details_pb2  # noqa: F401
    from pybaton.pb.c1.c1z.v1 import diff_pb2  # noqa: F401
    from pybaton.pb.c1.c1z.v3 import manifest_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_additional_grants_revoked_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_baton_id_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_entitlement_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_etag_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_exclusion_group_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_external_link_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_external_ticket_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_grant_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_grant_replaced_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_grants_revoked_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_id_alias_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_previous_sync_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_provision_failure_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_ratelimit_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_raw_id_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_request_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_resource_deleted_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_resource_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_resource_tree_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_security_insight_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_session_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_source_cache_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_sync_id_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_task_approval_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_trait_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_type_scoped_entitlements_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_type_scoped_grants_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_v1_identifier_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_vendor_agreement_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import annotation_vendor_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import asset_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import connector_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import entitlement_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import event_feed_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import grant_pb2  # noqa: F401
    from pybaton.pb.c1.connector.v2 import resource_pb2  # noqa: F401
    from pybaton.pb.c1.reader.v2 import entitlement_pb2  # noqa: F401
    from pybaton.pb.c1.reader.v2 import grant_pb2  # noqa: F401
    from pybaton.pb.c1.reader.v2 import resource_pb2  # noqa: F401
    from pybaton.pb.c1.reader.v2 import sync_pb2  # noqa: F401
    from pybaton.pb.c1.storage.v3 import records_pb2  # noqa: F401
    from pybaton.pb.c1.storage.v3 import refs_pb2  # noqa: F401
    _registered = True
