"""Fixtures for the media tests: generated sample files, the S3 test server, both storages."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from media.storage import LocalStorage, S3Storage, Storage
from tests.support.s3server import S3Server

SHARED_DIR = Path(os.environ.get("LIUFANG_SHARED_DIR", Path(__file__).resolve().parents[3] / "shared"))
SPEECH_CLIP = SHARED_DIR / "audio" / "BAC009S0764W0121.wav"

_TONE = "aevalsrc=0.5*sin(2*PI*440*t):s=44100"
# A 4:3 frame whose left half is red and right half blue: shows which way it was turned.
_RED_BLUE = "color=red:size={w}x{h}:rate=10,drawbox=x={half}:y=0:w={half}:h={h}:color=blue:t=fill"


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly; fail the test with its stderr if it fails."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is not installed: run `make test` (or apt-get install ffmpeg)")
    result = subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"ffmpeg {' '.join(args)} failed:\n{result.stderr}")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> None:
    """A tiny PNG whose header claims ``width``×``height`` pixels (30 GB decoded)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _amr_silence(path: Path, frames: int = 50) -> None:
    """An AMR-NB file (no encoder needed): ``frames`` 20 ms frames of mode 4.75 kbit/s."""
    frame = bytes([0x04]) + bytes(12)  # FT=0 (4.75k), quality bit set, 95 bits of payload
    path.write_bytes(b"#!AMR\n" + frame * frames)


class Samples:
    """Builds sample media on first request, once per test session (cached by name)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._recipes: dict[str, Callable[[Path], object]] = {
            # audio
            "tone.wav": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "2", "-ac", "2", str(p)),
            "tone.m4a": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-c:a", "aac", str(p)),
            "tone.mp3": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-c:a", "libmp3lame", str(p)),
            "tone.aac": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-c:a", "aac", "-f", "adts", str(p)),
            "tone.flac": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-c:a", "flac", str(p)),
            "tone.opus": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-c:a", "libopus", "-f", "ogg", str(p)),
            "tone.ogg": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-c:a", "libvorbis", "-f", "ogg", str(p)),
            "tone.3gp": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-ar", "16000", "-c:a", "aac", "-f", "3gp", str(p)),
            "tone.webm": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-c:a", "libopus", "-f", "webm", str(p)),
            "tone.mka": lambda p: ffmpeg("-f", "lavfi", "-i", _TONE, "-t", "1", "-c:a", "flac", "-f", "matroska", str(p)),
            "silence.amr": _amr_silence,
            "half_tone_half_silence.flac": lambda p: ffmpeg(
                "-f", "lavfi", "-i", "aevalsrc=if(lt(t\\,1)\\,0.5*sin(2*PI*440*t)\\,0):s=8000",
                "-t", "2", "-c:a", "flac", str(p)),
            "long_noise.flac": lambda p: ffmpeg(
                "-f", "lavfi", "-i", "anoisesrc=a=0.05:r=8000:c=white", "-t", "600", "-c:a", "flac",
                "-compression_level", "0", str(p)),
            # video
            "bars.mp4": lambda p: ffmpeg(
                "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-f", "lavfi", "-i", _TONE,
                "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", str(p)),
            "bars_faststart.mp4": lambda p: ffmpeg(
                "-f", "lavfi", "-i", "testsrc=size=320x240:rate=15", "-f", "lavfi", "-i", _TONE,
                "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-movflags", "+faststart", str(p)),
            "bars_hevc.mov": lambda p: ffmpeg(
                "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-f", "lavfi", "-i", _TONE,
                "-t", "1", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
                "-tag:v", "hvc1", "-c:a", "aac", "-f", "mov", str(p)),
            "bars.3gp": lambda p: ffmpeg(
                "-f", "lavfi", "-i", "testsrc=size=176x144:rate=10", "-f", "lavfi", "-i", _TONE,
                "-t", "1", "-c:v", "h263", "-ar", "16000", "-c:a", "aac", "-f", "3gp", str(p)),
            "bars.webm": lambda p: ffmpeg(
                "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", _TONE,
                "-t", "1", "-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus", "-f", "webm", str(p)),
            "bars.mkv": lambda p: ffmpeg(
                "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", _TONE,
                "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "matroska", str(p)),
            "portrait_phone.mp4": self._portrait_phone,
            # images / documents
            "photo_gps.jpg": self._jpeg_with_exif,
            "photo.heic": self._heic,
            "photo.png": lambda p: self._image("PNG", p),
            "photo.webp": lambda p: self._image("WEBP", p),
            "three_pages.pdf": self._pdf,
            # hostile
            "zero.mp4": lambda p: p.write_bytes(b""),
            "elf_renamed.mp4": lambda p: shutil.copyfile("/bin/true", p),
            "archive.zip": self._zip,
            "notes.txt": lambda p: p.write_text("口述史采访提纲\n第一部分\n", encoding="utf-8"),
            "bomb.png": _png_bomb,
            "truncated.mp4": lambda p: self._truncate("bars.mp4", p, 0.6),
            "truncated_faststart.mp4": lambda p: self._truncate("bars_faststart.mp4", p, 0.5),
            "cut_open_mdat.mp4": self._cut_open_mdat,
            "broken.pdf": lambda p: p.write_bytes(b"%PDF-1.7\n1 0 obj <<>> garbage, no xref\n"),
            "playlist.mp4": lambda p: p.write_text(
                "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"),
        }

    def __call__(self, name: str) -> Path:
        path = self.root / name
        if not path.exists():
            tmp = self.root / f".building-{name}"
            self._recipes[name](tmp)
            tmp.replace(path)
        return path

    @property
    def speech(self) -> Path:
        if not SPEECH_CLIP.is_file():
            pytest.fail(f"shared speech clip not found: {SPEECH_CLIP} (set LIUFANG_SHARED_DIR)")
        return SPEECH_CLIP

    def _truncate(self, source: str, dst: Path, fraction: float) -> None:
        data = self(source).read_bytes()
        dst.write_bytes(data[: int(len(data) * fraction)])

    def _cut_open_mdat(self, dst: Path) -> None:
        """Half of a faststart MP4 whose ``mdat`` header says "runs to the end of the file"
        (size 0), as an interrupted recorder leaves it: structurally plausible, data cut."""
        data = bytearray(self("truncated_faststart.mp4").read_bytes())
        offset = 0
        while data[offset + 4:offset + 8] != b"mdat":
            offset += struct.unpack(">I", data[offset:offset + 4])[0]
        data[offset:offset + 4] = b"\x00\x00\x00\x00"
        dst.write_bytes(bytes(data))

    def _portrait_phone(self, dst: Path) -> None:
        """Landscape 1280×960 frames (red left, blue right) tagged to be shown rotated, as a
        phone held upright records them."""
        plain = self.root / "portrait_plain.mp4"
        ffmpeg("-f", "lavfi", "-i", _RED_BLUE.format(w=1280, h=960, half=640),
               "-f", "lavfi", "-i", _TONE, "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
               "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2", str(plain))
        ffmpeg("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", "-f", "mp4", str(dst))

    @staticmethod
    def _red_blue_image(width: int = 64, height: int = 32):  # type: ignore[no-untyped-def]
        from PIL import Image

        image = Image.new("RGB", (width, height), (255, 0, 0))
        image.paste((0, 0, 255), (width // 2, 0, width, height))
        return image

    def _jpeg_with_exif(self, dst: Path) -> None:
        """64×32 stored (red left, blue right), EXIF orientation 6 (turn 90° clockwise to
        show), taken 2024-05-01 09:30 +08:00 at 31°13'48.6"N 121°28'12.0"E (Shanghai)."""
        from fractions import Fraction

        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = 6
        exif_ifd = exif.get_ifd(0x8769)
        exif_ifd[0x9003] = "2024:05:01 09:30:00"
        exif_ifd[0x9011] = "+08:00"
        gps = exif.get_ifd(0x8825)
        gps[1] = "N"
        gps[2] = (Fraction(31), Fraction(13), Fraction(486, 10))
        gps[3] = "E"
        gps[4] = (Fraction(121), Fraction(28), Fraction(12))
        self._red_blue_image().save(dst, format="JPEG", exif=exif, quality=95)

    def _heic(self, dst: Path) -> None:
        """64×32 HEIC with EXIF orientation 6 (pillow-heif stores it as a HEIF rotation)."""
        import pillow_heif
        from PIL import Image

        pillow_heif.register_heif_opener()
        exif = Image.Exif()
        exif[0x0112] = 6
        self._red_blue_image().save(dst, format="HEIF", exif=exif.tobytes(), quality=90)

    def _image(self, fmt: str, dst: Path) -> None:
        self._red_blue_image().save(dst, format=fmt)

    @staticmethod
    def _pdf(dst: Path) -> None:
        from PIL import Image

        pages = [Image.new("RGB", (200, 300), colour) for colour in ("red", "green", "blue")]
        pages[0].save(dst, format="PDF", save_all=True, append_images=pages[1:],
                      title="留芳口述史 · 访谈记录")

    @staticmethod
    def _zip(dst: Path) -> None:
        import zipfile

        with zipfile.ZipFile(dst, "w") as archive:
            archive.writestr("readme.txt", "hello")


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return Samples(tmp_path_factory.mktemp("media-samples"))


# -- storage ---------------------------------------------------------------------------------
S3_BUCKET = "liufang-test"


def make_s3_storage(server: S3Server, **options: object) -> S3Storage:
    """A storage of its own: the session's bucket under a fresh key prefix (creating a bucket
    costs weed ~0.2 s), with 5 MiB parts so that multipart uploads are exercised."""
    return S3Storage(
        server.endpoint, server.access_key, server.secret_key, bucket=S3_BUCKET,
        part_size=5 * 1024 * 1024, key_prefix=f"t-{uuid.uuid4().hex[:12]}/",
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """The storage contract's subject: LocalStorage, then S3Storage on the real server."""
    if request.param == "local":
        return LocalStorage(tmp_path / "storage")
    return make_s3_storage(request.getfixturevalue("s3_server"))
