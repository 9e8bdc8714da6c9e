"""The chat gateway: websockets in front of the agent, questions out on ``chat.requests``, answer
events back on this instance's own reply topic ``chat.replies.<gateway_id>``."""

from services.gateway.auth import AuthError, Principal, issue_token, verify
from services.gateway.config import GatewayConfig
from services.gateway.server import Gateway

__all__ = ["AuthError", "Gateway", "GatewayConfig", "Principal", "issue_token", "verify"]
