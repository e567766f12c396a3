"""Community features: accounts, upvotes, collections and paper submissions.

from paperfeed.community import Community, RateLimited
community = library.community
user = community.authenticate("ada", "correct horse battery", client="203.0.113.7")
"""

from paperfeed.community.accounts import RateLimited
from paperfeed.community.models import Collection, Session, Submission, User, Vote
from paperfeed.community.service import Community

__all__ = ["Collection", "Community", "RateLimited", "Session", "Submission", "User", "Vote"]
