"""Fixtures: a real SMTP server on loopback and a mail worker sending to it."""

from tests.mail_server import mail_worker, smtp

__all__ = ["mail_worker", "smtp"]
