"""Thin Bolt listeners; `register_all` wires every kind into an app."""

from slack_bolt.async_app import AsyncApp

from handlers import actions, admin, commands, cosell, errors, events, partnerships, views


def register_all(app: AsyncApp) -> None:
    for module in (commands, actions, admin, cosell, partnerships, views, events, errors):
        module.register(app)
