"""What an uploaded file is, decided from its bytes, and what readers are sent of it."""

import io
import resource
import struct

import pytest
from PIL import ExifTags, Image

from cms.errors import InvalidInput, UnsupportedMediaType
from cms.media import images
from tests.media import files

CAP = 60_000_000


def inspect(data: bytes, *, max_pixels: int = CAP) -> images.Inspection:
    return images.inspect(io.BytesIO(data), max_pixels=max_pixels)


def test_the_type_comes_from_the_bytes() -> None:
    for kind, mime in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")):
        found = inspect(files.photo(64, 48, kind=kind))
        assert (found.mime, found.width, found.height, found.frames) == (mime, 64, 48, 1)


def test_html_named_jpg_is_refused_as_not_an_image() -> None:
    with pytest.raises(UnsupportedMediaType, match="not an image of an accepted type"):
        inspect(files.HTML)


def test_svg_is_refused_and_says_why() -> None:
    with pytest.raises(UnsupportedMediaType, match="SVG"):
        inspect(files.SVG)


def test_a_png_claiming_900_megapixels_is_refused_from_its_header_with_memory_flat() -> None:
    bomb = files.png_claiming(30_000, 30_000)
    assert len(bomb) < 2048 and struct.unpack(">II", bomb[16:24]) == (30_000, 30_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InvalidInput, match="too large"):
        inspect(bomb)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 50 * 1024  # decoding it would take 2.7 GB


def test_a_png_past_the_sites_cap_but_under_pillows_is_refused_too() -> None:
    with pytest.raises(InvalidInput, match="passes 1,000,000 pixels"):
        inspect(files.png_claiming(1001, 1000), max_pixels=1_000_000)
    assert inspect(files.png_claiming(1000, 1000), max_pixels=1_000_000).width == 1000


def test_an_animated_gif_counts_every_frame_against_the_cap() -> None:
    gif = files.animated_gif(100, 100, frames=12)
    assert inspect(gif, max_pixels=120_000).frames == 12
    with pytest.raises(InvalidInput, match="width x height x frames"):
        inspect(gif, max_pixels=119_999)


def test_damaged_data_is_an_invalid_file_not_a_server_error() -> None:
    data = files.photo(200, 200)
    truncated = data[: len(data) // 2]
    found = inspect(truncated)
    with pytest.raises(InvalidInput, match="cannot be decoded"):
        images.decode(io.BytesIO(truncated), source_format=found.format)


def test_renditions_carry_no_exif_no_gps_and_are_turned_upright() -> None:
    data = files.jpeg_with_gps_and_rotation(600, 400)
    original = Image.open(io.BytesIO(data))
    assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the fixture does carry GPS
    found = inspect(data)
    assert (found.width, found.height) == (600, 400)  # as stored
    pixels, turned = images.decode_oriented(io.BytesIO(data), source_format=found.format)
    assert turned and pixels.size == (400, 600)
    made = dict(images.render(pixels, source_format=found.format))
    assert sorted(made) == sorted(images.rendition_names("JPEG"))
    for name, encoded in made.items():
        assert b"Secret Camera" not in encoded and b"Exif" not in encoded, name
        out = Image.open(io.BytesIO(encoded))
        assert not out.getexif(), name
        assert out.height > out.width, name
    assert Image.open(io.BytesIO(made["thumb.jpg"])).size == (200, 300)


def test_a_jpeg_html_polyglot_comes_out_as_pixels_only() -> None:
    data = files.jpeg_html_polyglot()
    assert files.HTML in data
    found = inspect(data)
    pixels = images.decode(io.BytesIO(data), source_format=found.format)
    for name, encoded in images.render(pixels, source_format=found.format):
        assert b"<script" not in encoded and b"html" not in encoded.lower(), name


def test_a_large_jpeg_is_decoded_at_the_size_the_renditions_need() -> None:
    data = files.photo(6000, 4000)
    pixels = images.decode(io.BytesIO(data), source_format="JPEG")
    assert pixels.size == (3000, 2000)  # draft mode: a quarter of the pixels


def test_an_image_is_never_enlarged() -> None:
    data = files.photo(300, 200, kind="PNG")
    pixels = images.decode(io.BytesIO(data), source_format="PNG")
    sizes = {
        name: Image.open(io.BytesIO(b)).size
        for name, b in images.render(pixels, source_format="PNG")
    }
    assert sizes["thumb.png"] == (200, 133)
    assert sizes["1600.webp"] == (300, 200)


def test_a_large_png_is_reduced_before_it_is_oriented_and_converted() -> None:
    data = files.photo(4000, 3000, kind="PNG")
    pixels = images.decode(io.BytesIO(data), source_format="PNG")
    assert pixels.size == (2000, 1500) and pixels.mode == "RGB"


def test_a_reduced_image_is_still_turned_upright() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = files.photo(4000, 2000, kind="PNG", exif=exif.tobytes())  # shown 2000 x 4000
    pixels, turned = images.decode_oriented(io.BytesIO(data), source_format="PNG")
    assert turned and pixels.size == (1000, 2000)  # reduced by 2, then turned
