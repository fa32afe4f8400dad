"""Outgoing mail: a queue written in the transaction of the change that sends it, and a
worker that delivers it after the commit, retrying, so no request ever waits on (or fails
because of) a mail server.

* :mod:`cms.mail.queue`: :func:`~cms.mail.queue.enqueue` a message of a registered kind,
  or :func:`~cms.mail.queue.send_notice` a plain one, inside a unit of work.
* :mod:`cms.mail.worker`: claims due messages, composes them, hands them to the transport.
* :mod:`cms.mail.transport`: SMTP (``CMS_SMTP_URL``) or, without one, the log and a
  folder of ``.eml`` files (``CMS_MAIL_DIR``).
"""
