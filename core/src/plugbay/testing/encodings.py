"""Real tiktoken encoding files for offline tests, from a PyPI package that ships them.

tiktoken downloads ``o200k_base.tiktoken`` and ``cl100k_base.tiktoken`` on first use and
caches each under ``TIKTOKEN_CACHE_DIR`` as the SHA-1 of its URL. The test dependency
``quicktok-v1`` ships the same ranks in its own binary layout (``quicktok/data/<name>.vocab``:
a little-endian u32 count, then per token a u16 length, the bytes and a u32 rank).
``seed_tiktoken_cache`` rewrites them in tiktoken's text format (base64 token, space,
rank, one a line, by rank) into a cache directory. The result is byte-identical to
OpenAI's files: tiktoken's loader checks the SHA-256 it pins and refuses anything else,
so a test that loads through it proves the file is the real one. Nothing is downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import struct
from pathlib import Path

from plugbay.openai_compat.tokens import tiktoken_url

__all__ = ["ENCODINGS", "seed_tiktoken_cache", "tiktoken_url"]

# tiktoken's name -> the name of quicktok's vocab file
ENCODINGS = {"o200k_base": "o200k", "cl100k_base": "cl100k"}


def _vocab_dir() -> Path | None:
    spec = importlib.util.find_spec("quicktok")  # finds the package, imports nothing
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data"
    return path if path.is_dir() else None


def _tiktoken_text(vocab: bytes) -> bytes:
    (count,) = struct.unpack_from("<I", vocab, 0)
    offset, ranked = 4, []
    for _ in range(count):
        (size,) = struct.unpack_from("<H", vocab, offset)
        token = vocab[offset + 2:offset + 2 + size]
        (rank,) = struct.unpack_from("<I", vocab, offset + 2 + size)
        offset += 6 + size
        ranked.append((rank, token))
    ranked.sort()
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in ranked)


def seed_tiktoken_cache(cache_dir: Path, names: tuple[str, ...] = tuple(ENCODINGS)) -> bool:
    """Write the encodings ``names`` into ``cache_dir`` as tiktoken caches them; False
    when ``quicktok-v1`` is not installed (a test then skips)."""
    source = _vocab_dir()
    if source is None:
        return False
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        target = cache_dir / hashlib.sha1(tiktoken_url(name).encode()).hexdigest()
        if not target.exists():
            target.write_bytes(_tiktoken_text((source / f"{ENCODINGS[name]}.vocab").read_bytes()))
    return True
