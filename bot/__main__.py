"""``python -m bot``: run the bot; ``python -m bot augment ...``: augment a sheet from the shell."""

from bot.cli import main

raise SystemExit(main())
