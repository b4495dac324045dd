"""The exceptions users can cause. The CLI turns each into one message and exit code 1."""


class AssistantError(Exception):
    """Base class: its message is meant for the user, and says what to do."""


class CorpusError(AssistantError):
    """The corpus folder is missing, empty or unreadable."""


class IndexLoadError(AssistantError):
    """The index folder is missing, damaged, or does not match its corpus or model."""


class ModelError(AssistantError):
    """The embedding model cannot be loaded."""


class QueryError(AssistantError):
    """A question, a batch line or a query set is unusable."""


class SkipFile(AssistantError):
    """One corpus file cannot be read; the build names it with this reason and goes on."""


class IndexBusyError(AssistantError):
    """Another build, add or remove is changing the same index."""


class ExportError(AssistantError):
    """An answer cannot be exported to that file, or an export cannot be read to verify it."""


class IndexUnavailableError(AssistantError):
    """The engine behind the index (a Qdrant server) cannot be reached or refused a request."""
