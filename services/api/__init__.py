"""The public HTTP API: ``build_api(ApiPorts(...))``."""

from services.api.app import build_api
from services.api.outcomes import OutcomeTracker
from services.api.ports import ApiPorts

__all__ = ["ApiPorts", "OutcomeTracker", "build_api"]
