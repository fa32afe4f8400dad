"""What an uploaded file is, decided from its bytes, and the re-encoded copies readers get.

Pillow reads only a file's header when it opens it, so the type, the dimensions and the
frame count are checked against the pixel cap before a single pixel is decoded: a small
file that claims 900 megapixels is refused in milliseconds with memory flat. Readers are
only sent images this module encoded (:func:`render`), from decoded pixels alone, so no
EXIF, XMP, GPS position or bytes smuggled after the image data (an HTML polyglot) ever
leave the server; the EXIF orientation is applied to the pixels first.

SVG is refused: it is a document that can carry script, and refusing it is the simplest
choice that is safe.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageOps, UnidentifiedImageError, features

from cms.config import MEDIA_PIXEL_CEILING
from cms.errors import InvalidInput, UnsupportedMediaType

# Pillow's own decompression-bomb check, a backstop behind the per-site cap checked below.
Image.MAX_IMAGE_PIXELS = MEDIA_PIXEL_CEILING

# Detected type (Pillow's format name) -> what the file is said to be.
ACCEPTED: dict[str, str] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
ACCEPTED_NAMES = "JPEG, PNG, WebP or GIF"
# The format the "original format" renditions are written in: a GIF becomes a still PNG
# of its first frame (animation is not kept).
PUBLIC_FORMAT = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "PNG"}
EXTENSION = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "AVIF": "avif"}
MIME_OF_EXTENSION = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "avif": "image/avif",
}
# Every image also gets these, besides its own format: WebP everywhere, and AVIF (smaller
# again, and as fast to encode at speed 8) where this Pillow was built with it.
MODERN_FORMATS = ("WEBP", "AVIF") if features.check("avif") else ("WEBP",)
# The named sizes, by the width they are made at (never wider than the image itself).
SIZES: dict[str, int] = {"thumb": 200, "400": 400, "800": 800, "1600": 1600}
LARGEST = max(SIZES.values())
_CHUNK = 1024 * 1024
# Modes Image.reduce() accepts (a palette image is converted at its own size: one byte a
# pixel, it is the small one).
_REDUCIBLE = frozenset({"L", "LA", "RGB", "RGBA", "I", "F", "CMYK", "La", "RGBa"})


@dataclass(frozen=True)
class Inspection:
    """What an uploaded file is, known before any pixel was decoded. ``width`` and
    ``height`` are as stored; :func:`decode_oriented` says whether showing it upright
    swaps them (its EXIF orientation can sit anywhere in the file)."""

    sha256: str
    bytes: int
    format: str
    width: int
    height: int
    frames: int

    @property
    def mime(self) -> str:
        return ACCEPTED[self.format]


def rendition_names(source_format: str) -> list[str]:
    """Every rendition file an image of ``source_format`` has, e.g. ``400.webp``."""
    extensions = sorted(
        {EXTENSION[kind] for kind in (*MODERN_FORMATS, PUBLIC_FORMAT[source_format])}
    )
    return [f"{name}.{ext}" for name in SIZES for ext in extensions]


def digest(file: BinaryIO) -> tuple[str, int]:
    """The SHA-256 and length of what ``file`` holds, read in chunks; rewound after."""
    file.seek(0)
    hasher = hashlib.sha256()
    size = 0
    while chunk := file.read(_CHUNK):
        hasher.update(chunk)
        size += len(chunk)
    file.seek(0)
    return hasher.hexdigest(), size


def _looks_like_svg(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith((b"<svg", b"<?xml")) and b"<svg" in text


def inspect(file: BinaryIO, *, max_pixels: int) -> Inspection:
    """Hash ``file`` and decide what it is from its header alone.

    Raises :class:`UnsupportedMediaType` for anything but a JPEG, PNG, WebP or GIF (SVG
    included), and :class:`InvalidInput` for an image whose width x height x frames
    passes ``max_pixels`` or whose header cannot be read.
    """
    sha256, size = digest(file)
    head = file.read(512)
    file.seek(0)
    if _looks_like_svg(head):
        raise UnsupportedMediaType(
            "SVG images are not accepted (they can carry script); upload a PNG or WebP instead"
        )
    try:
        image = Image.open(file, formats=list(ACCEPTED))
    except UnidentifiedImageError:
        raise UnsupportedMediaType(
            f"This file is not an image of an accepted type ({ACCEPTED_NAMES}); "
            "the type is read from the file's content, not its name"
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Past Pillow's own ceiling (where warnings are errors, a warning too).
        raise _too_many_pixels(max_pixels) from None
    except (OSError, ValueError, SyntaxError):
        raise _undecodable() from None
    with image:
        width, height = image.size
        if width < 1 or height < 1 or width * height > max_pixels:
            raise _too_many_pixels(max_pixels)
        try:
            frames = _frames(image)
        except (OSError, ValueError, SyntaxError, EOFError):
            raise _undecodable() from None
        if width * height * frames > max_pixels:
            raise _too_many_pixels(max_pixels, frames=frames)
        assert image.format is not None
        return Inspection(sha256, size, image.format, width, height, frames)


def _frames(image: Image.Image) -> int:
    """How many frames ``image`` has: Pillow counts them by reading frame headers only."""
    return int(getattr(image, "n_frames", 1))


def _too_many_pixels(max_pixels: int, *, frames: int = 1) -> InvalidInput:
    what = "width x height x frames" if frames > 1 else "width x height"
    return InvalidInput(
        "file",
        f"The image is too large: its {what} passes {max_pixels:,} pixels; "
        "scale it down and upload it again",
    )


def _undecodable() -> InvalidInput:
    return InvalidInput(
        "file", "The image cannot be decoded (damaged or truncated); export it again"
    )


def decode(file: BinaryIO, *, source_format: str) -> Image.Image:
    """:func:`decode_oriented`'s pixels."""
    return decode_oriented(file, source_format=source_format)[0]


def decode_oriented(file: BinaryIO, *, source_format: str) -> tuple[Image.Image, bool]:
    """The pixels of an inspected file, oriented, decoded once at no more than the largest
    rendition needs (JPEG's draft mode decodes a 6000-wide photo at 3000 wide); and
    whether orienting them turned them a quarter (width and height swap).

    Raises :class:`InvalidInput` when the data is damaged."""
    file.seek(0)
    try:
        with Image.open(file, formats=[source_format]) as image:
            if image.format == "JPEG":
                width, height = image.size
                scale = max(1, width // LARGEST)
                image.draft("RGB", (width // scale, height // scale))
            image.load()
            # Halved (or more) at once where it is still twice as wide as the largest
            # rendition needs: the copies that orienting and converting make are then
            # of the smaller image (a 7000-wide PNG cannot be drafted like a JPEG).
            smaller = _reduced(image, image.width // LARGEST)
            oriented = ImageOps.exif_transpose(smaller)
            turned = oriented.size != smaller.size
            pixels = _public_mode(oriented)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        raise _undecodable() from None
    finally:
        file.seek(0)
    # Nothing but pixels travels on: no EXIF, XMP, comments or palette tricks.
    pixels.info = {}
    return pixels, turned


def _reduced(image: Image.Image, factor: int) -> Image.Image:
    if factor < 2 or image.mode not in _REDUCIBLE:
        return image
    smaller = image.reduce(factor)
    # reduce() keeps the EXIF (for the orientation) but not in the info exif_transpose reads.
    smaller.info = dict(image.info)
    return smaller


def _public_mode(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    return image.convert("RGBA" if has_alpha else "RGB")


def render(pixels: Image.Image, *, source_format: str) -> Iterator[tuple[str, bytes]]:
    """Every rendition of decoded ``pixels``: ``(file name, encoded bytes)``, the largest
    size first, each made from the one before (fewer pixels to resample each time)."""
    formats = sorted({*MODERN_FORMATS, PUBLIC_FORMAT[source_format]})
    current = pixels
    for name, width in sorted(SIZES.items(), key=lambda item: -item[1]):
        if current.width > width:
            height = max(1, round(current.height * width / current.width))
            current = current.resize((width, height), Image.Resampling.LANCZOS)
        for kind in formats:
            yield f"{name}.{EXTENSION[kind]}", encode(current, kind)


def encode(image: Image.Image, kind: str) -> bytes:
    buffer = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(buffer, "JPEG", quality=85, optimize=True, progressive=True)
    elif kind == "WEBP":
        image.save(buffer, "WEBP", quality=80, method=4)
    elif kind == "AVIF":
        image.save(buffer, "AVIF", quality=60, speed=8)
    else:
        image.save(buffer, "PNG", optimize=False, compress_level=6)
    return buffer.getvalue()
