"""The index folder and its parts: dense and keyword backends, token and sentence vectors, columns, stores, sources, the manifest."""
