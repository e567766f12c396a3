"""E-mail digests: subscribers and their topics, composing, mail, senders.

``library.delivery`` (:class:`paperfeed.digest.service.Delivery`) is the entry
point; this package's ``__init__`` only re-exports the data classes so that the
storage layer can import them without pulling in the service.
"""

from paperfeed.digest.models import (
    Cadence,
    Digest,
    DigestItem,
    DigestRunReport,
    Subscriber,
    Topic,
)

__all__ = ["Cadence", "Digest", "DigestItem", "DigestRunReport", "Subscriber", "Topic"]
