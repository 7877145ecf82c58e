"""pytest plugin: the ``connector_conformance`` fixture.

Enable it in a ``conftest.py`` with ``pytest_plugins = ["pybaton.testing.pytest_plugin"]``, then::

    def test_conformance(connector_conformance):
        connector_conformance(lambda: MyConnector(MyConfig(...)))

The fixture runs :func:`pybaton.testing.check_connector` in the test's own
``tmp_path`` and fails the test with the full report when any check fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import pytest

from pybaton.testing.conformance import (
    ConformanceOptions,
    ConformanceReport,
    ConnectorFactory,
    assert_conformant,
)


class ConformanceRunner(Protocol):
    def __call__(self, factory: ConnectorFactory,
                 options: ConformanceOptions | None = None) -> ConformanceReport: ...


@pytest.fixture
def connector_conformance(tmp_path: Path) -> ConformanceRunner:
    """Call it with a connector factory; it asserts the connector conforms."""

    def run(factory: ConnectorFactory, options: ConformanceOptions | None = None) -> ConformanceReport:
        return assert_conformant(factory, tmp_path=tmp_path / "conformance", options=options)

    return run
