"""Reading documents: files on disk -> Document -> Passage (formats, splitting, memory budgets)."""
