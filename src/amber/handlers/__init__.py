"""Amber's built-in lifecycle handlers for run-time objects of the standard library, one module per
kind: asyncio event loops (:mod:`.loops`) and ``concurrent.futures`` executors (:mod:`.executors`).
Each takes an idle object down before the snapshot and brings the *same* object up again after
restore; :mod:`amber.builtin_handlers` installs them, and :mod:`amber.capture.reduce.runtime`
refuses what they leave up (a busy object), with its path.

Imported at restore only when an image's hooks name them: they import nothing else of Amber's.
"""
