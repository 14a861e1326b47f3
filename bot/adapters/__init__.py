"""Adapters to the outside: the Slack Web API, CRM webhooks, the HTTP server, charts."""
