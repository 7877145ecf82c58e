"""The built-in ``scale`` connector (deterministic synthetic data for benchmarks)."""

from pybaton.connectors.scale.connector import ScaleConfig, ScaleConnector
from pybaton.connectors.scale.model import ScaleModel

__all__ = ["ScaleConfig", "ScaleConnector", "ScaleModel"]
