"""``python -m bot``: run the bot; from a shell, ``python -m bot augment ...`` augments a sheet
and ``python -m bot template OUT.xlsx`` writes the sheet template."""

from bot.cli import main

raise SystemExit(main())
