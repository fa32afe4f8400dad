"""Two-factor sign-in: TOTP (RFC 6238), one-time recovery codes, and the site's policy
on who must use them."""
