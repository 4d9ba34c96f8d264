"""Integrity Check: a chat bot that runs a customer-loyalty integrity check.

The core (`bot.core.service`, `bot.core.commands`, `bot.store`) knows nothing of any chat
platform; adapters in `bot.adapters` turn platform events into core calls.
"""

__version__ = "0.1.0"
