"""Search: keyword (tantivy BM25), semantic (local embeddings) and hybrid search,
related papers, and the derived indexes behind them. Entry point:
:class:`paperfeed.search.service.SearchService`, reached through the Library."""
