"""What counts as a secret in a config, and which environment variable holds it instead.

Hydra writes every override and the composed config to `.hydra/`, the record keeps the resolved config, and W&B
uploads both: a secret that reaches the config is written to disk and shipped. So keys come from the environment
only (judges read the variable `api_key_env` names, huggingface_hub reads HF_TOKEN, W&B reads WANDB_API_KEY), and
three ways of putting one into the config are refused: a secret-named key (anywhere in the dotted path), a URL with
credentials in it (`http://user:secret@host`), and `${oc.env:...}` of a secret-named variable (the resolved value
would be recorded).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Words of a key (or variable) name that make it a credential. Plurals and longer words are not: max_new_tokens and
# tokenizer are settings, authors is not auth.
_SECRET_WORDS = {"auth", "authorization", "oauth", "bearer", "cookie", "passphrase", "pwd", "passwd"}
_SECRET_ENDINGS = ("token", "secret", "password", "credential", "credentials", "apikey", "privatekey")
_KEY_QUALIFIERS = {"api", "access", "private", "secret", "client", "signing", "encryption", "session"}
# `api_key_env: OPENAI_API_KEY` names where a key is, so it is not one (its value must then be a variable's name).
_NAMES_A_VARIABLE = "env"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# scheme://userinfo@host: whatever sits before the @ (user:password, a bare token) is a credential.
_URL_CREDENTIALS = re.compile(r"\b[a-z][a-z0-9+.\-]*://[^/@\s'\"]+@", re.IGNORECASE)
_ENV_INTERPOLATION = re.compile(r"\$\{\s*oc\.env\s*:\s*['\"]?([^,}'\"\s]+)")
# A shell assignment inside a value, e.g. a launcher's `setup: ["export HF_TOKEN=..."]` (written into the job script).
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=\S")
# Keys in the formats providers issue: an OpenAI key, a Hugging Face token, a GitHub token.
_KEY_VALUE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{20,}|hf_[A-Za-z0-9]{30,}|gh[pousr]_[A-Za-z0-9]{30,})")
# A W&B API key is 40 hex characters (`local-` before them for a self-hosted server). So is a git commit, which a
# config pins on purpose (model.revision, eval.*.commit): a bare 40-hex value is a key except under such a name.
_WANDB_KEY = re.compile(r"(?<![0-9A-Za-z])(?:local-)?[0-9a-f]{40}(?![0-9A-Za-z])")
_NAMES_A_COMMIT = {"revision", "commit", "sha", "git_sha", "ref"}


def _words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)  # apiKey -> api_Key
    return [word for word in re.split(r"[^a-z0-9]+", spaced.lower()) if word]


def secret_name(name: str) -> bool:
    """A key or variable name that holds a credential: api_key, hf_token, WANDB_API_KEY, password, auth, apiKey,
    client_secret ... (case-insensitive, in any segment of a dotted path); `api_key_env` only names a variable."""
    for segment in str(name).split("."):
        words = _words(segment)
        if not words or words[-1] == _NAMES_A_VARIABLE:
            continue
        if any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words):
            return True
        if any(a in _KEY_QUALIFIERS and b == "key" for a, b in zip(words, words[1:], strict=False)):
            return True
    return False


def names_a_variable(name: str) -> bool:
    """A key whose value is the NAME of an environment variable (judge.harm.api_key_env)."""
    words = _words(str(name).rsplit(".", 1)[-1])
    return len(words) > 1 and words[-1] == _NAMES_A_VARIABLE and secret_name("_".join(words[:-1]))


def where_it_belongs(path: str) -> str:
    """Which environment variable holds the credential a key at `path` would set."""
    top, *rest = path.lstrip("+~").split(".")
    if top == "judge":
        spec = f"judge.{rest[0]}" if rest else "judge.harm"
        return f"OPENAI_API_KEY (or the variable {spec}.api_key_env names)"
    if top == "logger":
        return "WANDB_API_KEY (or run `wandb login`)"
    if top == "hydra":
        return "the variable the library reads (HF_TOKEN, WANDB_API_KEY, OPENAI_API_KEY), set in the shell"
    return "HF_TOKEN (or run `huggingface-cli login`)"


def value_problems(path: str, value: Any) -> Iterator[str]:
    """Why a value at `path` would write a secret: credentials in a URL, an interpolation of a secret variable, a
    provider's key format, or (in a dict value) a secret-named key. The value itself is never repeated."""
    if isinstance(value, dict):
        for key, item in value.items():
            sub = f"{path}.{key}"
            if secret_name(str(key)):
                yield key_problem(sub)
            else:
                yield from value_problems(sub, item)
        return
    if isinstance(value, list | tuple):
        for item in value:
            yield from value_problems(path, item)
        return
    if not isinstance(value, str):
        return
    if names_a_variable(path) and not _ENV_NAME.match(value):
        yield (
            f"{path} names the environment variable that holds the key (e.g. OPENAI_API_KEY), not the key itself: "
            f"export the key and set {path} to the variable's name"
        )
        return
    if _URL_CREDENTIALS.search(value):
        yield (
            f"{path} has credentials in its URL (user:password@): they would be written to .hydra/, record.json and "
            f"W&B; give the URL without them and export the key as {where_it_belongs(path)}"
        )
    for variable in _ENV_INTERPOLATION.findall(value):
        if secret_name(variable):
            yield (
                f"{path} reads the secret variable {variable} with oc.env: its value would be written to .hydra/, "
                f"record.json and W&B; alignbench reads keys from the environment itself, leave it out of the config"
            )
    for variable in _ASSIGNMENT.findall(value):
        if secret_name(variable):
            yield (
                f"{path} sets the secret variable {variable}: it would be written to .hydra/ and the job script; "
                "export it in the shell that launches alignbench instead (jobs inherit the environment)"
            )
    if _KEY_VALUE.search(value) or (_WANDB_KEY.search(value) and not _names_a_commit(path)):
        yield (
            f"{path} holds what looks like an API key or token: it would be written to .hydra/, record.json and "
            f"W&B; export it as {where_it_belongs(path)} instead"
        )


def _names_a_commit(path: str) -> bool:
    return str(path).rsplit(".", 1)[-1].lstrip("+~").lower() in _NAMES_A_COMMIT


def key_problem(path: str) -> str:
    return (
        f"{path} would write a secret to .hydra/, record.json and W&B; keys come from the environment only: "
        f"export {where_it_belongs(path)}"
    )


def env_copy_problem(variable: str) -> str:
    return (
        f"hydra.job.env_copy copies the secret variable {variable} into .hydra/hydra.yaml; leave it out: the job "
        "inherits the environment anyway"
    )
