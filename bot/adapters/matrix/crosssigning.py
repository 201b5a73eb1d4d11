"""The bot's cross-signing identity: a master, a self-signing and a user-signing key.

Clients that exclude insecure devices (MSC4153, Element's direction) share no room key with a
device its owner has not cross-signed, and flag its messages. At each start the bot therefore
makes sure that its account has cross-signing keys it holds, and that its current device
carries the self-signing key's signature:

* no keys on the account: three ed25519 keys are made (PyNaCl, through ``signedjson``, which
  also makes the canonical JSON that is signed), kept in ``cross_signing.key``, uploaded
  (``/keys/device_signing/upload``; a homeserver that asks for user-interactive auth gets the
  bot's password) and the device is signed (``/keys/signatures/upload``);
* the account's keys are the ones held: only a device not signed yet (a new ``data_dir``
  with the key file kept, a lost store) is signed, by the same identity;
* the account has keys the bot does not hold: nothing is replaced unless the run was started
  with ``--reset-cross-signing``; the log says so and how to reset.

``cross_signing.key`` holds the three private keys encrypted (``nacl.secret.SecretBox``) with
a key derived from the crypto store's pickle key (keyed BLAKE2b), 0600 like every file there.
Keeping both files keeps the identity; losing either means a reset.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.secret
import nacl.utils
from signedjson.key import (
    decode_signing_key_base64,
    encode_signing_key_base64,
    encode_verify_key_base64,
    generate_signing_key,
    get_verify_key,
)
from signedjson.sign import sign_json

from bot.files import write_private

from .errors import MatrixError, _safe

if TYPE_CHECKING:
    from .adapter import MatrixAdapter

log = logging.getLogger(__name__)

KEY_FILE = "cross_signing.key"
USAGES = ("master", "self_signing", "user_signing")
QUERY = "/_matrix/client/v3/keys/query"
UPLOAD_KEYS = "/_matrix/client/v3/keys/device_signing/upload"
UPLOAD_SIGNATURES = "/_matrix/client/v3/keys/signatures/upload"
RESET_HINT = (
    "start the bot once with --reset-cross-signing to replace them (members who verified the "
    "bot by hand will be told its identity changed)"
)


class CrossSigningError(MatrixError):
    """Cross-signing could not be set up (the message says why and what to do)."""


@dataclass(frozen=True)
class CrossSigningKeys:
    """The three private keys of one account's identity, as unpadded base64 seeds."""

    user_id: str
    seeds: dict[str, str]

    @classmethod
    def generate(cls, user_id: str) -> CrossSigningKeys:
        seeds = {u: encode_signing_key_base64(generate_signing_key(u)) for u in USAGES}
        return cls(user_id, seeds)

    def signing_key(self, usage: str) -> Any:
        """The key, its version being its public key (as Matrix names cross-signing keys)."""
        seed = self.seeds[usage]
        unnamed = decode_signing_key_base64("ed25519", "", seed)
        public = encode_verify_key_base64(get_verify_key(unnamed))
        return decode_signing_key_base64("ed25519", public, seed)

    def public(self, usage: str) -> str:
        return str(self.signing_key(usage).version)

    def key_object(self, usage: str) -> dict[str, Any]:
        """The public key as uploaded; the subkeys signed by the master key."""
        public = self.public(usage)
        obj: dict[str, Any] = {
            "user_id": self.user_id,
            "usage": [usage],
            "keys": {f"ed25519:{public}": public},
        }
        if usage != "master":
            obj = sign_json(obj, self.user_id, self.signing_key("master"))
        return obj

    def upload_body(self) -> dict[str, Any]:
        return {f"{usage}_key": self.key_object(usage) for usage in USAGES}


class KeyFile:
    """``cross_signing.key``: the seeds, encrypted with a key derived from the pickle key."""

    def __init__(self, path: Path, pickle_key: str) -> None:
        self.path = path
        derived = nacl.hash.blake2b(
            b"debate-bot cross-signing keys",
            key=pickle_key.encode("utf-8")[:64],
            digest_size=nacl.secret.SecretBox.KEY_SIZE,
            encoder=nacl.encoding.RawEncoder,
        )
        self._box = nacl.secret.SecretBox(derived)

    def load(self) -> CrossSigningKeys | None:
        """The keys kept, or None (no file; or a file this pickle key cannot open, logged)."""
        try:
            sealed = base64.b64decode(self.path.read_bytes().strip(), validate=True)
        except FileNotFoundError:
            log.debug("no %s yet", KEY_FILE)
            return None
        except (OSError, ValueError) as exc:
            log.warning("%s is unreadable (%s); the bot holds no identity", KEY_FILE, _safe(exc))
            return None
        try:
            data = json.loads(self._box.decrypt(sealed))
        except (nacl.exceptions.CryptoError, ValueError):
            log.warning(
                "%s cannot be opened with this data_dir's pickle_key (keep both files "
                "together); the bot holds no identity",
                KEY_FILE,
            )
            return None
        seeds = data.get("seeds") if isinstance(data, dict) else None
        if not isinstance(seeds, dict) or set(seeds) != set(USAGES):
            log.warning("%s is incomplete; the bot holds no identity", KEY_FILE)
            return None
        return CrossSigningKeys(
            str(data.get("user_id", "")), {k: str(v) for k, v in seeds.items()}
        )

    def save(self, keys: CrossSigningKeys) -> None:
        plain = json.dumps({"user_id": keys.user_id, "seeds": keys.seeds}).encode("utf-8")
        sealed = self._box.encrypt(plain, nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE))
        write_private(self.path, base64.b64encode(bytes(sealed)) + b"\n")


def _only_key(obj: Any) -> str | None:
    """The public ed25519 key of a cross-signing key object, if it has exactly one."""
    keys = obj.get("keys") if isinstance(obj, dict) else None
    if not isinstance(keys, dict) or len(keys) != 1:
        return None
    [value] = keys.values()
    return str(value)


class CrossSigning:
    """Sets up, at start, the bot's cross-signing identity and its device's signature."""

    def __init__(self, adapter: MatrixAdapter) -> None:
        self.adapter = adapter
        # Set from ``debate-bot run --reset-cross-signing``: keys on the account that the bot
        # does not hold are replaced instead of left in place.
        self.reset = False

    @property
    def key_file(self) -> KeyFile:
        adapter = self.adapter
        return KeyFile(adapter.store_dir / KEY_FILE, adapter.store.pickle_key())

    async def ensure(self) -> bool:
        """Make the bot's device cross-signed; False (with a log line) when it cannot be."""
        try:
            await self._ensure()
        except CrossSigningError as exc:
            log.warning("%s", exc)
            return False
        except Exception as exc:  # the bot still answers lenient clients
            log.warning("cross-signing could not be set up: %s", _safe(exc))
            return False
        return True

    async def _ensure(self) -> None:
        client = self.adapter.require_client()
        me = str(client.user_id)
        answer = await self._query(me)
        on_account = _only_key((answer.get("master_keys") or {}).get(me))
        signing = _only_key((answer.get("self_signing_keys") or {}).get(me))
        held = self.key_file.load()
        if held is not None and held.user_id != me:
            held = None
        ours = held is not None and (held.public("master"), held.public("self_signing")) == (
            on_account,
            signing,
        )
        if on_account is not None and not ours:
            if not self.reset:
                raise CrossSigningError(
                    "the bot's Matrix account already has cross-signing keys that this data_dir "
                    f"does not hold (master key {on_account}): they are left in place and the "
                    f"bot's device stays unverified; {RESET_HINT}"
                )
            held = None
        if not ours:
            held = held or CrossSigningKeys.generate(me)
            self.key_file.save(held)  # before the upload: a crash then loses nothing
            await self._upload_keys(held)
            log.info("cross-signing keys uploaded (master key %s)", held.public("master"))
            answer = await self._query(me)
        assert held is not None
        await self._sign_device(held, answer)

    async def _query(self, user_id: str) -> dict[str, Any]:
        client = self.adapter.require_client()
        status, answer = await client.raw_json("POST", QUERY, {"device_keys": {user_id: []}})
        if status != 200:
            raise MatrixError(f"querying the bot's own keys failed (HTTP {status})")
        return answer

    async def _upload_keys(self, keys: CrossSigningKeys) -> None:
        client = self.adapter.require_client()
        body = keys.upload_body()
        status, answer = await client.raw_json("POST", UPLOAD_KEYS, body)
        if status == 401 and isinstance(answer.get("flows"), list):
            auth = self._password_auth(answer)
            status, answer = await client.raw_json("POST", UPLOAD_KEYS, {**body, "auth": auth})
        if status != 200:
            code = answer.get("errcode") or "no error code"
            raise MatrixError(f"uploading the cross-signing keys failed (HTTP {status}, {code})")

    def _password_auth(self, challenge: dict[str, Any]) -> dict[str, Any]:
        """The answer to the homeserver's user-interactive auth, or what the operator does."""
        adapter = self.adapter
        stages = {
            s for f in challenge["flows"] if isinstance(f, dict) for s in f.get("stages", [])
        }
        if adapter.password is None or "m.login.password" not in stages:
            params = challenge.get("params") or {}
            url = next(
                (p["url"] for p in params.values() if isinstance(p, dict) and "url" in p), None
            )
            where = (
                f"approve the reset at {url}, then restart the bot"
                if url
                else (
                    f"set {adapter.config.password_env or 'platforms.matrix.password_env'} to the "
                    "account's password for one start (or approve a cross-signing reset in the "
                    "homeserver's account management), then restart the bot"
                )
            )
            raise CrossSigningError(
                "the homeserver asks for user-interactive auth to upload the bot's "
                f"cross-signing keys and the bot has no password to answer it: {where}"
            )
        return {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": adapter.config.user_id},
            "password": adapter.password,
            "session": challenge.get("session"),
        }

    async def _sign_device(self, keys: CrossSigningKeys, answer: dict[str, Any]) -> None:
        client = self.adapter.require_client()
        me, device_id = str(client.user_id), str(client.device_id)
        device = ((answer.get("device_keys") or {}).get(me) or {}).get(device_id)
        if not isinstance(device, dict):
            raise MatrixError("the bot's device keys are not on the homeserver yet")
        own = client.olm.account.identity_keys["ed25519"] if client.olm is not None else None
        if (device.get("keys") or {}).get(f"ed25519:{device_id}") != own:
            raise MatrixError("the homeserver shows other keys for the bot's device: not signed")
        signer = keys.signing_key("self_signing")
        if f"ed25519:{signer.version}" in (device.get("signatures") or {}).get(me, {}):
            log.debug("the bot's device is cross-signed already")
            return
        device = {k: v for k, v in device.items() if k != "unsigned"}
        signed = sign_json(device, me, signer)
        status, result = await client.raw_json(
            "POST", UPLOAD_SIGNATURES, {me: {device_id: signed}}
        )
        if status != 200 or result.get("failures"):
            raise MatrixError(f"uploading the device's signature failed (HTTP {status})")
        log.info("the bot's device is cross-signed (master key %s)", keys.public("master"))
