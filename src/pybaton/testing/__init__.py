"""Testing helpers for connector authors: the conformance kit and fault injection.

- :func:`assert_conformant` / :func:`check_connector` drive a connector the way
  the engine does and report pagination loops, unstable ids, dangling grants,
  malformed ids and broken resume;
- :func:`inject_faults` makes chosen connector calls fail, to test retries;
- ``pytest_plugins = ["pybaton.testing.pytest_plugin"]`` adds the
  ``connector_conformance`` fixture.
"""

from pybaton.connector.hooks import AfterCalls, Call, CallCounter, WrappedConnector, interrupt, wrap_connector
from pybaton.testing.conformance import (
    CHECKS,
    ConformanceOptions,
    ConformanceReport,
    ConnectorWalk,
    Finding,
    Snapshot,
    assert_conformant,
    check_connector,
    snapshot,
)
from pybaton.testing.faults import Fault, FaultInjector, inject_faults

__all__ = [
    "CHECKS",
    "AfterCalls",
    "Call",
    "CallCounter",
    "ConformanceOptions",
    "ConformanceReport",
    "ConnectorWalk",
    "Fault",
    "FaultInjector",
    "Finding",
    "Snapshot",
    "WrappedConnector",
    "assert_conformant",
    "check_connector",
    "inject_faults",
    "interrupt",
    "snapshot",
    "wrap_connector",
]
