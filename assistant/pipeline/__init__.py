"""The stages wired together: building and changing an index, and the Assistant that answers."""
