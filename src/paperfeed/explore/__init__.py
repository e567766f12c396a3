"""Pictures and browsing: trends of any search, author and category pages, and the
map of the field. Services over the keyword index, the vectors and the database;
the :class:`~paperfeed.library.Library` wires them and adapters reach them there."""
