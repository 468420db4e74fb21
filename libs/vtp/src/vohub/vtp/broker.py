"""Broker-side VTP state machines, in one place: the receive port's and the broadcast port's.

:class:`ReceiverConnection` (:mod:`vohub.vtp.receiver`) is the broker's end of one author
connection; :class:`BroadcastConnection` (:mod:`vohub.vtp.broadcaster`) the broker's end of one
subscriber connection. Each module opens with a block comment giving its states, transitions
and invariants.
"""

from vohub.vtp.broadcaster import (
    IAMALIVE_INTERVAL,
    MAX_MISSED_IAMALIVES,
    MAX_OUTSTANDING_ACKS,
    BroadcastConnection,
    Offer,
)
from vohub.vtp.receiver import RECEIVE_TIMEOUT, ReceiverConnection, ReceiverState

__all__ = [
    "IAMALIVE_INTERVAL",
    "MAX_MISSED_IAMALIVES",
    "MAX_OUTSTANDING_ACKS",
    "RECEIVE_TIMEOUT",
    "BroadcastConnection",
    "Offer",
    "ReceiverConnection",
    "ReceiverState",
]
