"""Community features: accounts, upvotes, collections, paper submissions and follows.

from paperfeed.community import Community, RateLimited
community = library.community
user = community.authenticate("ada", "correct horse battery", client="203.0.113.7")
"""

from paperfeed.community.accounts import RateLimited
from paperfeed.community.service import Community
from paperfeed.models.community import Collection, Session, Submission, User, Vote

__all__ = ["Collection", "Community", "RateLimited", "Session", "Submission", "User", "Vote"]
