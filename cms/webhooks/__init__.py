"""Webhooks: the outbox every editorial action writes to, endpoints, and the dispatcher
that delivers events to them (Standard Webhooks format)."""
