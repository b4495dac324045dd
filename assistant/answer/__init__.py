"""Ranked passages -> an Answer: quotes and citations, abstaining, the view every renderer draws."""
