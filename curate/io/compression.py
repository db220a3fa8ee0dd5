"""Decompression by file extension (.gz, .bz2, .xz, .zst) for every reader, and a way to ask, once a file has been
read, whether it ended where its compressed stream says it ends.

Two things the standard streams get wrong for a reader that must lose nothing silently:
- zstandard's `stream_reader` returns end-of-file on a truncated frame without a word (a `.jsonl.zst` cut in half
  read as 0 records);
- gzip, bz2 and lzma raise `EOFError` at the break, but through `io.BufferedReader` (which every line reader and
  warcio read through) the exception discards the good bytes decompressed in the same call: the last whole
  records before the break are lost with it.

So every format goes through `Decompressed`: it feeds the file to a decompression object of its own, hands out
every byte that decompressed, then reports end-of-file, and keeps what went wrong in `error`. After reading,
`stream_error(f)` returns it (an `EOFError` for a stream that stopped inside a frame or member, or the codec's
error for corrupt data), so the reader can quarantine the break with the last good record named.
"""

import bz2
import io
import lzma
import zlib
from typing import IO

CHUNK = 1 << 16


def _gzip():
    return zlib.decompressobj(16 + zlib.MAX_WBITS)  # one gzip member, CRC checked


def _zstd():
    import zstandard

    return zstandard.ZstdDecompressor().decompressobj()


DECOMPRESSORS = {".gz": _gzip, ".bz2": bz2.BZ2Decompressor, ".xz": lzma.LZMADecompressor, ".zst": _zstd}


def open_decompressed(f: IO[bytes], filepath: str) -> IO[bytes]:
    """A buffered, line-iterable binary stream of the decompressed bytes of `f`, chosen by `filepath`'s
    extension (an uncompressed file is returned as it is)."""
    for ext, new in DECOMPRESSORS.items():
        if filepath.endswith(ext):
            return io.BufferedReader(Decompressed(f, new), 1 << 20)
    return f


def stream_error(f: IO[bytes]) -> Exception | None:
    """What ended a stream of `open_decompressed` before its end (None: it ended where it should, or was read
    only in part, or is not compressed)."""
    raw = getattr(f, "raw", None)
    return raw.error if isinstance(raw, Decompressed) else None


class Decompressed(io.RawIOBase):
    """The decompressed bytes of one or more concatenated streams (gzip members, bz2/xz streams, zstd frames);
    see the module docstring for why errors wait in `error` instead of being raised."""

    def __init__(self, f: IO[bytes], new_decompressor):
        self._f = f
        self._new = new_decompressor
        self._d = new_decompressor()
        self._in_stream = False  # bytes of the current stream were fed and its end not yet seen
        self._out = b""
        self._done = False
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._out:
            if self._done:
                return 0
            data = self._f.read(CHUNK)
            if not data:
                self._done = True
                if self._in_stream:
                    self.error = EOFError("the compressed stream ends early (the file is truncated)")
                return 0
            try:
                self._out = self._feed(data)
            except Exception as e:  # corrupt data: zlib.error, OSError, LZMAError, ZstdError
                self._done, self.error = True, e
        n = min(len(buffer), len(self._out))
        buffer[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _feed(self, data: bytes) -> bytes:
        """Decompress `data`, starting a new decompression object at each stream boundary."""
        out = []
        while data:
            self._in_stream = True
            out.append(self._d.decompress(data))
            if not self._d.eof:
                break
            data = self._d.unused_data
            self._d, self._in_stream = self._new(), False
            if not data.strip(b"\0"):  # zero padding after the last stream (gzip tools may write it)
                break
        return b"".join(out)
