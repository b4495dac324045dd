"""Retrieval evaluation: query sets, metrics, collections side by side."""
