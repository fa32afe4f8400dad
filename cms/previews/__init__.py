"""Preview links: a signed, expiring, revocable token that opens one draft or scheduled
article, as readers will see it, to whoever holds it."""
