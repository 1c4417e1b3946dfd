"""The two file formats the archive and the backups trust: age (encryption) and minisign.

Both are chosen so that a unit can be opened in twenty years with stock tools and no
ЭЖ-box: `age -d -i key.txt unit.age` decrypts, `minisign -Vm FILE -p box.pub` checks
a signature (DESIGN §3 «Archive»).

* age: `pyrage` (the Rust `age` crate). Its file and stream functions work in fixed
  64 KiB chunks, so memory does not grow with the file (tested with 200 MB). A failed
  decryption may already have written plaintext, so every output goes to a temporary
  name first and only a complete, authenticated result gets its final name.
* minisign: written here on `cryptography` (Ed25519) and `hashlib` (BLAKE2b-512): the
  prehashed signature (algorithm ``ED``) with the global signature over the signature
  and the trusted comment, exactly as `minisign -S` writes it. The file is hashed in
  chunks, never read whole.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
import re
import secrets
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyrage
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pyrage import x25519

from ..durable import fsync_dir

CHUNK = 1 << 20  # hashing and copying: 1 MiB at a time

SECRET_PREFIX = "AGE-SECRET-KEY-1"
RECIPIENT_PREFIX = "age1"

# minisign (https://jedisct1.github.io/minisign/)
SIG_ALG = b"Ed"  # the key's algorithm, and the legacy (not prehashed) signature
SIG_ALG_HASHED = b"ED"  # BLAKE2b-512 of the file, then Ed25519: large files stream
KDF_NONE = b"\0\0"
CHK_ALG = b"B2"
KEYNUM_BYTES = 8
UNTRUSTED = "untrusted comment: "
TRUSTED = "trusted comment: "
DEFAULT_SIG_COMMENT = "signature from minisign secret key"
TRUSTED_MAX = 8192
# control characters (but the tab of minisign's own default comment) and line/paragraph
# separators: a comment must stay one line for any reader of the .minisig file (U+2028
# breaks Python's splitlines, \r breaks minisign's)
CONTROL_CATEGORIES = frozenset({"Cc", "Zl", "Zp"})


class CryptoError(ValueError):
    """A key or an encrypted file is wrong (message in Russian, names the file)."""


class SignatureError(CryptoError):
    """A signature does not match its file or key (message in Russian, names the file)."""


# --- operating-system errors in plain words ------------------------------------------

OS_ERROR_IN_TEXT = re.compile(r"\(os error (\d+)\)")


def os_errno(exc: BaseException) -> int | None:
    """The errno of an OSError; pyrage (Rust) leaves ``errno`` empty and writes
    «(os error 28)» into the message instead. None: no operating-system cause."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno
    match = OS_ERROR_IN_TEXT.search(str(exc))
    return int(match.group(1)) if match else None


def os_reason(exc: BaseException) -> str:
    """Why a file operation failed, for a tired admin (Russian, no traceback)."""
    code = os_errno(exc)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return "на диске не хватает места"
    if code in (errno.EACCES, errno.EPERM):
        return "нет прав на файл или папку (запускайте команды как sudo ezh …)"
    if code == errno.EROFS:
        return "диск доступен только для чтения"
    if code == errno.ENOENT:
        return "нет такого файла или папки"
    if code == errno.EISDIR:
        return "это папка, а не файл"
    if code == errno.EIO:
        return "ошибка ввода-вывода: носитель неисправен или извлечён"
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return f"ошибка файловой системы ({detail})"


# --- durable output -------------------------------------------------------------------


@contextmanager
def atomic_output(dst: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; on success fsync it and rename it to ``dst``.

    On any error the temporary file is removed: nothing half-written ever has the final
    name (a pulled USB stick or a wrong key leaves no file that looks finished).
    """
    dst = Path(dst)
    fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)


# --- age ------------------------------------------------------------------------------


def generate_identity() -> tuple[str, str]:
    """A new age key pair: (``AGE-SECRET-KEY-1…``, ``age1…`` recipient)."""
    identity = x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def parse_recipient(text: str) -> str:
    """A valid ``age1…`` recipient from user input, or CryptoError in Russian."""
    value = (text or "").strip()
    if not value.lower().startswith(RECIPIENT_PREFIX):
        raise CryptoError(
            f"«{value[:20]}» — не открытый ключ age: он начинается с age1 "
            "(его печатает age-keygen или ezh keys init)."
        )
    try:
        return str(x25519.Recipient.from_str(value))
    except pyrage.RecipientError as exc:
        raise CryptoError(f"Открытый ключ age «{value[:20]}…» повреждён: {exc}.") from exc


def parse_identities(text: str) -> list[x25519.Identity]:
    """The secret keys in a key file's text (``age-keygen`` format: comments allowed)."""
    found = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not line.upper().startswith(SECRET_PREFIX):
            raise CryptoError(
                "В файле ключа есть строка, которая не похожа на секретный ключ age "
                "(он начинается с AGE-SECRET-KEY-1)."
            )
        try:
            found.append(x25519.Identity.from_str(line.upper()))
        except pyrage.IdentityError as exc:
            raise CryptoError(
                f"Секретный ключ age повреждён (проверьте, что он набран без ошибок): {exc}."
            ) from exc
    if not found:
        raise CryptoError("В файле ключа нет секретного ключа age (AGE-SECRET-KEY-1…).")
    return found


def recipient_of(identity_text: str) -> str:
    """The ``age1…`` recipient that belongs to the (first) secret key in the text."""
    return str(parse_identities(identity_text)[0].to_public())


def encrypt_file(src: Path, dst: Path, recipients: list[str]) -> None:
    """Encrypt ``src`` into ``dst`` in the age format to every recipient (streaming)."""
    if not recipients:
        raise CryptoError("Не заданы открытые ключи age: зашифровать не для кого.")
    parsed = [x25519.Recipient.from_str(parse_recipient(r)) for r in recipients]
    try:
        with atomic_output(Path(dst)) as tmp:
            pyrage.encrypt_file(str(src), str(tmp), parsed)
    except (OSError, pyrage.EncryptError) as exc:
        reason = os_reason(exc) if os_errno(exc) is not None else str(exc)
        raise CryptoError(
            f"Не удалось зашифровать {Path(src).name} в {Path(dst).parent}: {reason}."
        ) from exc


def decrypt_file(src: Path | list[Path], dst: Path, identity: str) -> None:
    """Decrypt the age file ``src`` into ``dst`` with the key text (streaming).

    ``src`` may be the parts of a split file (``.001``, ``.002`` … from a FAT32 stick),
    read in order without joining them on disk. ``dst`` appears only when the whole file
    decrypted and authenticated: a wrong key, a flipped byte or a truncated file raise
    CryptoError and leave no ``dst``. A full, read-only or forbidden disk is named as
    such, not as a damaged file.
    """
    parts = [Path(p) for p in src] if isinstance(src, list) else [Path(src)]
    first = parts[0]
    identities = parse_identities(identity)
    for part in parts:
        if not part.is_file():
            raise CryptoError(f"Файла {part.name} нет ({part}).")
    try:
        with atomic_output(Path(dst)) as tmp:
            try:
                if len(parts) == 1:
                    pyrage.decrypt_file(str(first), str(tmp), identities)
                else:
                    _decrypt_parts(parts, tmp, identities)
            except pyrage.DecryptError as exc:
                if os_errno(exc) is not None:  # e.g. the source is unreadable
                    raise
                raise CryptoError(_decrypt_message(first, str(exc))) from exc
            except OSError as exc:
                if os_errno(exc) is not None:
                    raise
                # the age crate reports a failed chunk as an I/O error without errno
                raise CryptoError(
                    f"Файл {first.name} повреждён или обрезан: расшифровка остановилась "
                    "(проверка целостности не прошла)."
                ) from exc
    except (OSError, pyrage.DecryptError) as exc:
        raise CryptoError(
            f"Файл {first.name} не расшифрован: {os_reason(exc)} "
            f"(читается {first.parent}, пишется в {Path(dst).parent})."
        ) from exc


def _decrypt_parts(parts: list[Path], dst: Path, identities: list[x25519.Identity]) -> None:
    """Decrypt a split file: pyrage streams from a reader over the parts (4 MiB at a time)."""
    from .media import PartsReader  # late: media may come to use this module

    with PartsReader(parts) as reader, dst.open("wb") as out:
        pyrage.decrypt_io(reader, out, identities)


def _decrypt_message(src: Path, detail: str) -> str:
    if "No matching keys" in detail:
        return f"Ключ не подходит к файлу {src.name}: он зашифрован для другого ключа."
    if "Header" in detail or "header" in detail:
        return f"Файл {src.name} — не файл age или его заголовок повреждён."
    return f"Файл {src.name} не расшифровывается: {detail}."


# --- minisign -------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise SignatureError(f"{what}: не base64.") from exc


def key_id_hex(keynum: bytes) -> str:
    """The key id as minisign prints it (the little-endian number in hex)."""
    return keynum[::-1].hex().upper()


@dataclass(frozen=True)
class SigningKey:
    """The box's Ed25519 signing key with its random minisign key number."""

    keynum: bytes
    private: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id_hex(self.keynum)

    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    def public_key_text(self) -> str:
        """The public key file exactly as `minisign -G` writes it."""
        blob = SIG_ALG + self.keynum + self.public_bytes()
        return f"{UNTRUSTED}minisign public key {self.key_id}\n{_b64(blob)}\n"

    def secret_key_text(self) -> str:
        """The secret key in minisign's unencrypted format (`minisign -G -W`).

        Unencrypted because the box signs unattended; the file is 0600 under DATA/keys.
        A stock `minisign -S -s box.minisign.key` can use it too.
        """
        seed = self.private.private_bytes_raw()
        sk = seed + self.public_bytes()  # libsodium's 64-byte secret key
        chk = hashlib.blake2b(SIG_ALG + self.keynum + sk, digest_size=32).digest()
        blob = SIG_ALG + KDF_NONE + CHK_ALG + bytes(32 + 8 + 8) + self.keynum + sk + chk
        return f"{UNTRUSTED}minisign unencrypted secret key\n{_b64(blob)}\n"


def generate_signing_key() -> SigningKey:
    return SigningKey(secrets.token_bytes(KEYNUM_BYTES), Ed25519PrivateKey.generate())


def minisign_lines(text: str) -> list[str]:
    """Lines as minisign reads them: split on "\n" only, a trailing "\r" dropped.

    Not `str.splitlines`: it also splits on U+2028 and other separators that a trusted
    comment written by stock minisign may hold, and the comment would be cut short.
    """
    return [line[:-1] if line.endswith("\r") else line for line in (text or "").split("\n")]


def load_secret_key(text: str) -> SigningKey:
    """Read a minisign secret key file (unencrypted) written by us or `minisign -G -W`.

    Its BLAKE2b checksum (over algorithm, key number and key) is checked when present,
    and the public half must match the seed: a damaged key file never signs.
    """
    lines = [line for line in minisign_lines(text) if line.strip()]
    if len(lines) < 2:
        raise SignatureError("Секретный ключ подписи повреждён: в файле нет ключа.")
    blob = _unb64(lines[1], "Секретный ключ подписи")
    if len(blob) != 158 or blob[:2] != SIG_ALG or blob[4:6] != CHK_ALG:
        raise SignatureError("Секретный ключ подписи повреждён: это не ключ minisign.")
    if blob[2:4] != KDF_NONE:
        raise SignatureError(
            "Секретный ключ подписи защищён паролем: коробке нужен ключ без пароля."
        )
    keynum, sk, chk = blob[54:62], blob[62:126], blob[126:158]
    # stock `minisign -G -W` leaves the checksum of an unencrypted key zero (minisign
    # checks it only after decrypting a key); ours carries it: a bit flip is caught
    expected = hashlib.blake2b(SIG_ALG + keynum + sk, digest_size=32).digest()
    if chk != bytes(32) and chk != expected:
        raise SignatureError("Секретный ключ подписи повреждён: контрольная сумма не сходится.")
    private = Ed25519PrivateKey.from_private_bytes(sk[:32])
    key = SigningKey(keynum, private)
    if key.public_bytes() != sk[32:]:
        raise SignatureError("Секретный ключ подписи повреждён: части ключа не сходятся.")
    return key


def load_public_key(text: str) -> tuple[bytes, Ed25519PublicKey]:
    """(key number, key) from a minisign public key file's text or its base64 line."""
    lines = [
        line.strip()
        for line in minisign_lines(text)
        if line.strip() and not line.startswith(UNTRUSTED)
    ]
    if not lines:
        raise SignatureError("Открытый ключ подписи пуст.")
    blob = _unb64(lines[0], "Открытый ключ подписи")
    if len(blob) != 42 or blob[:2] != SIG_ALG:
        raise SignatureError("Открытый ключ подписи повреждён: это не ключ minisign.")
    return blob[2:10], Ed25519PublicKey.from_public_bytes(blob[10:])


def file_blake2b(path: Path) -> bytes:
    """BLAKE2b-512 of a file, read in chunks (the prehash of minisign's ``ED``)."""
    digest = hashlib.blake2b(digest_size=64)
    with Path(path).open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.digest()


def sign_file(
    path: Path,
    sig_path: Path,
    secret: SigningKey,
    trusted_comment: str,
    untrusted_comment: str = DEFAULT_SIG_COMMENT,
) -> None:
    """Write a minisign signature of ``path`` to ``sig_path`` (prehashed, streaming)."""
    text = sign_digest(file_blake2b(path), secret, trusted_comment, untrusted_comment)
    with atomic_output(Path(sig_path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def verify_file(path: Path, sig_path: Path, public_key_text: str) -> str:
    """Check the minisign signature of ``path``; return its trusted comment.

    Our own check, used where the stock `minisign` is absent. Any mismatch raises
    SignatureError naming the file.
    """
    path, sig_path = Path(path), Path(sig_path)
    name = path.name
    if not path.is_file():
        raise SignatureError(f"Файла {name} нет: проверить подпись нечего.")
    if not sig_path.is_file():
        raise SignatureError(f"Подписи {sig_path.name} к файлу {name} нет.")
    # bytes, not read_text: universal newlines would split on a lone "\r" too
    text = sig_path.read_bytes().decode("utf-8", errors="replace")
    return verify_digest(file_blake2b(path), name, text, public_key_text, sig_path.name)


# --- minisign over a digest --------------------------------------------------------------
# `sign_file`/`verify_file` hash a file; the archive hashes a unit once, while it streams
# to (or is read back from) the medium, so a split unit is never joined on disk just to
# be signed or checked (DESIGN §5). `minisign -Vm` checks the signature on the file.


def blake2b_hasher() -> hashlib.blake2b:
    """The running hash whose ``digest()`` is minisign's prehash of the same bytes."""
    return hashlib.blake2b(digest_size=64)


def sign_digest(
    digest: bytes,
    secret: SigningKey,
    trusted_comment: str,
    untrusted_comment: str = DEFAULT_SIG_COMMENT,
) -> str:
    """The ``.minisig`` text for a file whose BLAKE2b-512 is ``digest`` (prehashed ``ED``)."""
    if len(digest) != 64:
        raise SignatureError("Подпись: нужен хеш BLAKE2b-512 (64 байта).")
    for comment in (trusted_comment, untrusted_comment):
        if any(unicodedata.category(ch) in CONTROL_CATEGORIES and ch != "\t" for ch in comment):
            raise SignatureError(
                "Комментарий подписи должен быть одной строкой без управляющих символов."
            )
    trusted = trusted_comment.encode("utf-8")
    if len(trusted) > TRUSTED_MAX:
        raise SignatureError("Доверенный комментарий подписи слишком длинный для minisign.")
    signature = secret.private.sign(digest)
    global_sig = secret.private.sign(signature + trusted)
    return (
        f"{UNTRUSTED}{untrusted_comment}\n"
        f"{_b64(SIG_ALG_HASHED + secret.keynum + signature)}\n"
        f"{TRUSTED}{trusted_comment}\n"
        f"{_b64(global_sig)}\n"
    )


def verify_digest(
    digest: bytes, name: str, signature_text: str, public_key_text: str, sig_name: str = ""
) -> str:
    """Check a ``.minisig`` text against the BLAKE2b-512 ``digest`` of the file ``name``;
    return the trusted comment. Any mismatch raises SignatureError naming the file."""
    sig_name = sig_name or f"{name}.minisig"
    lines = minisign_lines(signature_text)
    if len(lines) < 4 or not lines[2].startswith(TRUSTED):
        raise SignatureError(f"Подпись {sig_name} к файлу {name} повреждена.")
    blob = _unb64(lines[1], f"Подпись {sig_name}")
    global_sig = _unb64(lines[3], f"Подпись {sig_name}")
    if len(blob) != 74 or len(global_sig) != 64:
        raise SignatureError(f"Подпись {sig_name} к файлу {name} повреждена.")
    keynum, public = load_public_key(public_key_text)
    if blob[2:10] != keynum:
        raise SignatureError(
            f"Файл {name} подписан другим ключом ({key_id_hex(blob[2:10])}), "
            f"а не ключом {key_id_hex(keynum)}."
        )
    if blob[:2] != SIG_ALG_HASHED:
        raise SignatureError(
            f"Подпись {sig_name} в старом формате minisign: проверьте её командой minisign -V."
        )
    signature = blob[10:]
    trusted = lines[2][len(TRUSTED) :]
    try:
        public.verify(signature, digest)
    except InvalidSignature as exc:
        raise SignatureError(
            f"Подпись не сходится: файл {name} изменён или подпись не от него."
        ) from exc
    try:
        public.verify(global_sig, signature + trusted.encode("utf-8"))
    except InvalidSignature as exc:
        raise SignatureError(f"Подпись {sig_name}: доверенный комментарий изменён.") from exc
    return trusted
