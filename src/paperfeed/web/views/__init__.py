"""Page families. Each module builds plain view data (dicts) from the Library and
registers its routes on ``router``; the same data renders the HTML page and is the
page's JSON twin (see :mod:`paperfeed.web.render`)."""
