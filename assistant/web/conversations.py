"""Each open page's conversation, kept on the server, and how a question is shown in it.

Owns the order of a page's messages when questions are answered at the same time,
and showing the user's own message as typed. No Gradio.
"""

from __future__ import annotations

import threading

from assistant.web.chat import escape_markdown


class Conversations:
    """Each page's conversation, kept on the server: its messages as shown and the
    questions as typed (the context of a follow-up question).

    Questions of one page may be answered at the same time (one sent while another is
    being answered); each answer goes right under its own question, and every update
    shows the whole conversation as it is, so neither answer overwrites the other.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: dict[str, Conversation] = {}

    def of(self, session: str) -> Conversation:
        with self._lock:
            return self._by_session.setdefault(session, Conversation(self._lock))

    def forget(self, session: str) -> None:
        with self._lock:
            self._by_session.pop(session, None)


class Conversation:
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self.messages: list[dict] = []
        self.asked: list[str] = []  # questions answered, as typed

    def ask(self, shown: str) -> tuple[dict, list[str], list[dict]]:
        """Add a question (as shown); returns it, the questions answered before it, and the messages."""
        question = {"role": "user", "content": shown}
        with self._lock:
            self.messages.append(question)
            return question, list(self.asked), [dict(m) for m in self.messages]

    def answer(self, question: dict, typed: str, text: str) -> list[dict]:
        """Put an answer right under its question; returns the messages."""
        with self._lock:
            at = next((i for i, m in enumerate(self.messages) if m is question), len(self.messages) - 1)
            self.messages.insert(at + 1, {"role": "assistant", "content": text})
            self.asked.append(typed)
            return [dict(m) for m in self.messages]


def show_question(message: object, history: list | None) -> list | None:
    """The chat's messages with the user's question added as text; None for an empty question.

    An empty or blank message adds nothing (no empty bubble); any other is shown
    as typed, its HTML and Markdown escaped.
    """
    if not isinstance(message, str) or not message.strip():
        return None
    return list(history or []) + [{"role": "user", "content": user_markdown(message)}]


def user_markdown(message: str) -> str:
    """The user's own message as Markdown that shows it as typed: never HTML, never a link or image."""
    return escape_markdown(message.strip())
