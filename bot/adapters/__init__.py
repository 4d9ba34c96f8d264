"""Adapters: thin layers that turn a chat platform's events into core calls and the
core's `Reply` into the platform's UI. One module (or package) per platform."""
