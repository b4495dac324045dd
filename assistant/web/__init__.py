"""The Gradio web chat: app, chat Markdown, uploads, request guard."""
