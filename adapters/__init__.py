"""The partner edge: the client SDK, body adapters and the partner agent."""

from adapters.client import Checkpoint, ExchangeClient, InboxItem, InboxPage, SendResult
from adapters.errors import EdgeError, HubError, VerificationFailed

__all__ = [
    "Checkpoint",
    "EdgeError",
    "ExchangeClient",
    "HubError",
    "InboxItem",
    "InboxPage",
    "SendResult",
    "VerificationFailed",
]
