"""Paper sources: each turns some input into batches of normalized :class:`PaperRecord`."""
