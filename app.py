"""Run PTM: `python app.py` (HTTP mode on $PORT, or Socket Mode when SLACK_APP_TOKEN is set)."""

import sys

from bot.app.serving import run_bot

if __name__ == "__main__":
    sys.exit(run_bot())
