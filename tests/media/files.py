"""Image files made with Pillow for the tests, hostile ones included: nothing is downloaded."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image


def photo(width: int = 640, height: int = 480, *, kind: str = "JPEG", **save: object) -> bytes:
    """A picture with detail in it (so encoders have work to do)."""
    image = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize((width, height)),
            Image.effect_noise((width, height), 40),
            Image.linear_gradient("L").rotate(90).resize((width, height)),
        ),
    )
    buffer = io.BytesIO()
    image.save(buffer, kind, **save)
    return buffer.getvalue()


def jpeg_with_gps_and_rotation(width: int = 600, height: int = 400) -> bytes:
    """A JPEG whose EXIF says where it was taken and that it must be turned a quarter
    (orientation 6: shown 400 wide and 600 high)."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Secret Camera Co"
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (52.0, 31.0, 12.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (13.0, 24.0, 36.0),
    }
    return photo(width, height, exif=exif.tobytes())


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` (a decompression bomb's
    shape: the header is all Pillow reads before it would allocate the pixels)."""
    data = photo(8, 8, kind="PNG")
    assert data[12:16] == b"IHDR"
    header = struct.pack(">II", width, height) + data[24:29]
    chunk = b"IHDR" + header
    return (
        data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:]
    )


def animated_gif(width: int, height: int, frames: int) -> bytes:
    # Each frame another colour: Pillow merges identical consecutive frames.
    images = [
        Image.new("RGB", (width, height), color=(index * 37 % 256, index * 11 % 256, 90))
        for index in range(frames)
    ]
    buffer = io.BytesIO()
    images[0].save(buffer, "GIF", save_all=True, append_images=images[1:], duration=50)
    return buffer.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def jpeg_html_polyglot() -> bytes:
    """A valid JPEG that is also an HTML page: script in a comment and after the end."""
    return photo(320, 240, comment=HTML) + HTML


SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(2)</script></svg>"
)
