"""The archive's keys on the box: age recipients (public only) and the box's signing key.

`ezh keys init` makes the director's age identity ON the box, prints it once as a key
sheet for the safe and forgets it: the box keeps only the recipients in
``DATA/keys/recipients.txt``, so a stolen box cannot open the archive or the backups
(DESIGN §3). The box signs with its own Ed25519 key in the minisign format
(``box.minisign.key``, 0600; ``box.minisign.pub``), made on first use if missing.

Files under ``DATA/keys/`` (the folder is 0700, secrets 0600)::

    recipients.txt       # comment line (who, when) before each age1… line
    box.minisign.key     # minisign's unencrypted secret key format
    box.minisign.pub     # exactly as `minisign -G` writes it
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..config import Settings
from ..durable import fsync_dir
from . import crypto

RECIPIENTS = "recipients.txt"
SIGNING_KEY = "box.minisign.key"
PUBLIC_KEY = "box.minisign.pub"
HEADER = (
    "# Открытые ключи age: для них ЭЖ-box шифрует электронный архив и резервные копии.\n"
    "# Секретные ключи есть только на листах ключа в сейфе директора.\n"
)
DIRECTOR = "директор"
DEPUTY = "заместитель директора"
FRESH_SECONDS = 5.0  # a public signing key this young may still be waiting for its secret


class KeysMissing(ValueError):
    """The archive keys were never made: nothing can be encrypted for the safe."""

    def __init__(self, message: str = "Ключи архива не созданы: выполните ezh keys init") -> None:
        super().__init__(message)


class KeysExist(ValueError):
    """`keys init` would replace keys that old archive units need."""


class SigningKeyLost(ValueError):
    """The box's secret signing key is gone while the archive keys exist (see the message)."""


@dataclass
class Recipient:
    recipient: str
    label: str = ""
    added: str = ""  # as written in the comment, dd.mm.yyyy hh:mm


@dataclass
class NewIdentity:
    """An identity made by `init_keys`: its secret lives only until the sheet is printed."""

    label: str
    secret: str
    recipient: str


@dataclass
class InitResult:
    identities: list[NewIdentity]
    recipients: list[Recipient]
    key_id: str
    replaced: Path | None = None  # the old recipients file kept aside by --force
    sheets: list[Path] = field(default_factory=list)


def keys_dir(settings: Settings) -> Path:
    """``DATA/keys``, created 0700 (only the box's user may list it)."""
    folder = settings.data_dir / "keys"
    folder.mkdir(mode=0o700, exist_ok=True)
    os.chmod(folder, 0o700)
    return folder


def _write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a small key file atomically with the given mode."""
    with crypto.atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.chmod(tmp, mode)


# --- recipients -----------------------------------------------------------------------


def read_recipients(settings: Settings) -> list[Recipient]:
    """Every recipient in ``recipients.txt`` with its comment (empty when none)."""
    path = settings.data_dir / "keys" / RECIPIENTS
    if not path.exists():
        return []
    found: list[Recipient] = []
    comment = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#"):
            comment = line.lstrip("# ").strip()
        elif line:
            label, _, added = comment.rpartition(", ")
            found.append(Recipient(crypto.parse_recipient(line), label or comment, added))
            comment = ""
    return found


def recipients(settings: Settings) -> list[str]:
    """The age recipients every archive unit and backup is encrypted to."""
    found = [r.recipient for r in read_recipients(settings)]
    if not found:
        raise KeysMissing()
    return found


def _save_recipients(settings: Settings, items: list[Recipient]) -> None:
    lines = [HEADER]
    for item in items:
        lines.append(f"# {item.label}, {item.added}\n{item.recipient}\n")
    _write_private(keys_dir(settings) / RECIPIENTS, "".join(lines), 0o644)


def _stamp(moment: dt.datetime | None = None) -> str:
    return (moment or dt.datetime.now()).strftime("%d.%m.%Y %H:%M")


def add_recipient(settings: Settings, text: str, label: str) -> Recipient:
    """Add an existing ``age1…`` key (e.g. a second person's) to the recipients."""
    recipient = crypto.parse_recipient(text)
    items = read_recipients(settings)
    if any(r.recipient == recipient for r in items):
        raise crypto.CryptoError("Этот открытый ключ уже есть в списке получателей.")
    item = Recipient(recipient, label.strip() or "дополнительный ключ", _stamp())
    signing_key(settings)  # a new box gets its signing key now; a lost one is reported
    _save_recipients(settings, [*items, item])
    return item


# --- the signing key ------------------------------------------------------------------


def _lost_message(settings: Settings) -> str:
    return (
        f"Секретный ключ подписи коробки пропал ({settings.data_dir}/keys/{SIGNING_KEY}), "
        "а ключи архива есть. Верните папку keys из копии данных коробки. Если её нет — "
        f"sudo ezh keys init --force --data {settings.data_dir} --sheet "
        "/dev/shm/ezh-key-director.pdf: будет новый ключ подписи "
        "(и новый лист ключа); подписи прежних файлов архива тогда проверяются только "
        "прежним открытым ключом подписи, напечатанным на старом листе ключа."
    )


def signing_key(settings: Settings, *, replace_lost: bool = False) -> crypto.SigningKey:
    """The box's minisign key, made (and its public half written) on first use.

    A key is never made again silently: when the archive keys (or the public signing
    key) exist but the secret is gone, old signatures would stop matching the key on
    the sheet, so SigningKeyLost says what to do — unless ``replace_lost`` (``keys init
    --force``), which keeps the old public key aside and makes a new pair.
    """
    folder = keys_dir(settings)
    path = folder / SIGNING_KEY
    if path.exists():
        return _load_signing_key(path)
    public = folder / PUBLIC_KEY
    made_now = _wait_for_secret(public, path)  # another process between its two links
    if made_now is not None:
        return made_now
    if _has_recipients(settings) or public.exists():
        if not replace_lost:
            raise SigningKeyLost(_lost_message(settings))
        if public.exists():
            os.replace(
                public, folder / f"box.minisign.replaced-{dt.datetime.now():%Y%m%dT%H%M%S}.pub"
            )
    return _create_signing_key(folder)


def _has_recipients(settings: Settings) -> bool:
    try:
        return bool(read_recipients(settings))
    except crypto.CryptoError:
        return True  # a damaged list still means keys were made


def _load_signing_key(path: Path) -> crypto.SigningKey:
    try:
        return crypto.load_secret_key(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise crypto.SignatureError(
            f"Ключ подписи коробки {path} не прочитан: {crypto.os_reason(exc)}."
        ) from exc


def _link_new(path: Path, text: str, mode: int) -> None:
    """Create ``path`` with ``text`` only if it does not exist: a complete temp file is
    hard-linked to the name (link fails when the name is taken, unlike rename)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _create_signing_key(folder: Path) -> crypto.SigningKey:
    """Make the pair exclusively, public key first: two processes on first use never
    write two different keys, and a secret never exists without its public key."""
    key = crypto.generate_signing_key()
    path = folder / SIGNING_KEY
    try:
        _link_new(folder / PUBLIC_KEY, key.public_key_text(), 0o644)
    except FileExistsError:  # another process makes the key right now: take its key
        made_now = _wait_for_secret(folder / PUBLIC_KEY, path)
        if made_now is None:
            raise
        return made_now
    _link_new(path, key.secret_key_text(), 0o600)
    return key


def _wait_for_secret(public: Path, path: Path) -> crypto.SigningKey | None:
    """The secret of a public key written a moment ago (by another process that is
    about to link it); None when there is none — a public key older than
    ``FRESH_SECONDS`` without its secret is a lost key, not one being made."""
    try:
        if time.time() - public.stat().st_mtime > FRESH_SECONDS:
            return None
    except FileNotFoundError:
        return None
    for _ in range(int(FRESH_SECONDS * 10)):
        if path.exists():
            return _load_signing_key(path)
        time.sleep(0.1)
    return None


def public_key_text(settings: Settings) -> str:
    """The box's public signing key, as the text of a minisign ``.pub`` file."""
    path = settings.data_dir / "keys" / PUBLIC_KEY
    if path.exists():
        return path.read_text(encoding="utf-8")
    key = signing_key(settings)
    if not path.exists():  # the secret was there, its public file lost: write it again
        _write_private(path, key.public_key_text(), 0o644)
    return key.public_key_text()


def sign(settings: Settings, path: Path, sig_path: Path, trusted_comment: str) -> None:
    """Sign ``path`` with the box key into ``sig_path`` (minisign format)."""
    crypto.sign_file(path, sig_path, signing_key(settings), trusted_comment)


# --- init and status ------------------------------------------------------------------


def init_keys(
    settings: Settings,
    *,
    deputy: bool = False,
    extra: list[str] | None = None,
    force: bool = False,
    write_sheets: Callable[[InitResult], list[Path]] | None = None,
) -> InitResult:
    """Make the director's (and optionally the deputy's) age identity; keep only recipients.

    The secrets go only to ``write_sheets`` (the key sheets) and are never stored.
    Existing keys are kept unless ``force``: archive units written for the old keys
    open only with the old sheets, so the old recipients file is kept aside.
    """
    extra_recipients = [crypto.parse_recipient(r) for r in extra or []]
    path = settings.data_dir / "keys" / RECIPIENTS
    if read_recipients(settings) and not force:
        raise KeysExist(
            "Ключи архива уже созданы. Архивы и копии, записанные для них, открываются "
            "только старыми листами ключа — не выбрасывайте их. Заменить ключи: "
            "ezh keys init --force."
        )
    stamp = _stamp()
    identities = []
    for label in [DIRECTOR] + ([DEPUTY] if deputy else []):
        secret, recipient = crypto.generate_identity()
        identities.append(NewIdentity(label, secret, recipient))
    items = [Recipient(i.recipient, i.label, stamp) for i in identities]
    items += [Recipient(r, "дополнительный ключ", stamp) for r in dict.fromkeys(extra_recipients)]
    result = InitResult(identities, items, signing_key(settings, replace_lost=force).key_id)
    if write_sheets is not None:  # before the recipients: no key without its sheet
        result.sheets = write_sheets(result)
    if path.exists():
        aside = f"recipients.replaced-{dt.datetime.now():%Y%m%dT%H%M%S}.txt"
        result.replaced = path.with_name(aside)
        os.replace(path, result.replaced)
    _save_recipients(settings, items)
    return result


def status(settings: Settings) -> dict:
    """What a page or `ezh doctor` shows: are the keys there, since when, which."""
    folder = settings.data_dir / "keys"
    path = folder / RECIPIENTS
    try:
        items = read_recipients(settings)
        problem = ""
    except crypto.CryptoError as exc:
        items, problem = [], f"Файл {path} повреждён: {exc}"
    key_id = ""
    signing = (folder / SIGNING_KEY).exists()
    if (folder / PUBLIC_KEY).exists():
        try:
            keynum, _ = crypto.load_public_key((folder / PUBLIC_KEY).read_text(encoding="utf-8"))
            key_id = crypto.key_id_hex(keynum)
        except crypto.CryptoError as exc:
            problem = problem or f"Открытый ключ подписи повреждён: {exc}"
    created = (
        dt.datetime.fromtimestamp(path.stat().st_mtime).replace(microsecond=0)
        if path.exists()
        else None
    )
    ready = bool(items) and not problem
    lost = bool(items) and not signing
    return {
        "ready": ready,
        "recipients": len(items),
        "recipient_list": [r.__dict__ for r in items],
        "signing_key": signing,
        "key_id": key_id,
        "created_at": created,
        "message": problem or ("" if ready else str(KeysMissing())),
        # backups need no signing key, the archive does: shown apart from «ready»
        "signing_message": _lost_message(settings) if lost else "",
    }
