"""Delivery: fan-out rules, the dispatcher, the webhook sender, subscriptions and message ids."""
