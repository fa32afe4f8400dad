"""Accounts people manage themselves by email: password reset, invitations, and
changing one's email address. Each works through a single-use, expiring link
(:class:`~cms.accounts.models.AccountLink`) sent by :mod:`cms.mail`."""
