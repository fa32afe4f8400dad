"""A person's name for the browser behind a ``User-Agent`` header: "Chrome on Linux".

Only for the list of one's own sessions, so they can tell them apart: the families a
back office is used from, matched in the order that untangles their tokens (every
Chromium browser says "Chrome", every browser "Mozilla", Chrome "Safari"). Anything else
is named by its first product token rather than guessed at; the full header is kept
beside it. A maintained parser (ua-parser) knows thousands of devices and bots a sign-in
list has no use for, and needs its rules updated to stay right; this needs neither.
"""

import re

# (name, pattern): the first that matches names the browser.
_BROWSERS = [
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\b(OPR|Opera)/")),
    ("Vivaldi", re.compile(r"\bVivaldi/")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(HeadlessChrome|Chrome|CriOS)/")),
    ("Chromium", re.compile(r"\bChromium/")),
    ("Safari", re.compile(r"\bVersion/[\d.]+.*\bSafari/")),
]
_SYSTEMS = [
    ("iOS", re.compile(r"\b(iPhone|iPad|iPod)\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b|\bX11\b")),
]
_PRODUCT = re.compile(r"^([A-Za-z][\w.-]{0,39})(/\S*)?")


def browser_name(user_agent: str) -> str:
    """ "Firefox on Windows", "Safari on iOS", "curl", or "Unknown browser"."""
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), None)
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), None)
    if browser is None:
        product = _PRODUCT.match(user_agent.strip())
        if product is None or product.group(1) == "Mozilla":
            browser = "Unknown browser"
        else:
            browser = product.group(1)
    return f"{browser} on {system}" if system else browser
