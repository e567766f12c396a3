"""E-mail digests: subscribers and their topics, composing, mail, senders.

``library.delivery`` (:class:`paperfeed.digest.service.Delivery`) is the entry
point; this package's ``__init__`` only re-exports the data classes, which live
in :mod:`paperfeed.models.digest` (the bottom layer) because the storage layer
stores and returns them.
"""

from paperfeed.models.digest import (
    Cadence,
    Digest,
    DigestItem,
    DigestRunReport,
    Subscriber,
    Topic,
)

__all__ = ["Cadence", "Digest", "DigestItem", "DigestRunReport", "Subscriber", "Topic"]
