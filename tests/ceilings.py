"""Ceilings for the tests' waits. They only bound a hang and never time a behaviour: every wait
ends as soon as what it waits for happens, and each ceiling is far beyond what that takes on a
busy 2-core machine (several test runs and other work at once)."""

# A Python process that imports kobo (discord.py, torch, transformers) until it logs that it
# listens, or ends: 3 s alone, 25 s measured on a loaded 2-core machine.
PROCESS_SECONDS = 180
