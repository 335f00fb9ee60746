"""The object store test servers (s3rver and Azurite, started by
tests/services/start.sh) and rclone, the reference client the object store
tests compare megasync's results with.

    from object_stores import s3, azurite, rclone_check
    server = s3()                       # URL, keys, data folder
    rclone_check(server, "/tmp/src", "s3r:bucket")   # fails the test on differences
    rclone_check(server, "s3r:bucket", "azr:container")

rclone runs with `--config /dev/null`, `--fast-list` and on-the-fly remotes
named `s3r` (s3rver) and `azr` (Azurite; RCLONE_CONFIG_<NAME>_* variables), and
without AWS_CA_BUNDLE, which breaks its S3 backend on machines that set it.
rclone 1.60's azureblob backend cannot take an emulator on another port than
10000 (its `endpoint` is a domain suffix), so `azr` uses an account SAS URL
signed here with the development key.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
import re
import urllib.parse
import urllib.request
import subprocess
import urllib.error
from html import unescape as html_unescape
import uuid
from typing import List

from services import ServicesNotRunning, _settings, env_file

RCLONE_TIMEOUT = 120.0  # an upper bound, not a sleep


@dataclasses.dataclass(frozen=True)
class S3Server:
    url: str
    access_key_id: str
    secret_access_key: str
    data_dir: str  # s3rver's folder: <bucket>/<key>._S3rver_object, uploads in ._S3rver_uploads


def s3() -> S3Server:
    values = _settings()
    keys = ["URL", "ACCESS_KEY_ID", "SECRET_ACCESS_KEY", "DATA_DIR"]
    missing = [f"MEGASYNC_S3_{k}" for k in keys if not values.get(f"MEGASYNC_S3_{k}")]
    if missing:
        raise ServicesNotRunning(
            f"tests/services/start.sh was not run: {', '.join(missing)} not set in the "
            f"environment nor in {env_file()}.")
    return S3Server(values["MEGASYNC_S3_URL"], values["MEGASYNC_S3_ACCESS_KEY_ID"],
                    values["MEGASYNC_S3_SECRET_ACCESS_KEY"], values["MEGASYNC_S3_DATA_DIR"])


@dataclasses.dataclass(frozen=True)
class AzureServer:
    url: str  # http://127.0.0.1:<port>/<account> (path-style, as the emulator wants)
    account: str
    key: str  # base64 account key


def azurite() -> AzureServer:
    values = _settings()
    keys = ["URL", "ACCOUNT", "KEY"]
    missing = [f"MEGASYNC_AZURITE_{k}" for k in keys if not values.get(f"MEGASYNC_AZURITE_{k}")]
    if missing:
        raise ServicesNotRunning(
            f"tests/services/start.sh was not run: {', '.join(missing)} not set in the "
            f"environment nor in {env_file()}.")
    return AzureServer(values["MEGASYNC_AZURITE_URL"], values["MEGASYNC_AZURITE_ACCOUNT"],
                       values["MEGASYNC_AZURITE_KEY"])


def account_sas(server: AzureServer) -> str:
    """An account SAS token (query string, no '?') for the Blob service: every
    permission on containers and blobs, valid until 2099, signed with the
    account key (service version 2019-12-12's string-to-sign)."""
    fields = {"sv": "2019-12-12", "ss": "b", "srt": "sco", "sp": "rwdlacup",
              "st": "2020-01-01T00:00:00Z", "se": "2099-01-01T00:00:00Z", "spr": "http,https"}
    to_sign = "\n".join([server.account, fields["sp"], fields["ss"], fields["srt"], fields["st"],
                         fields["se"], "", fields["spr"], fields["sv"], ""])
    digest = hmac.new(base64.b64decode(server.key), to_sign.encode(), hashlib.sha256).digest()
    fields["sig"] = base64.b64encode(digest).decode()
    return urllib.parse.urlencode(fields)


def new_container_name(tag: str) -> str:
    """A container name no other test uses (lower case, 3-63 characters)."""
    return new_bucket_name(tag)


def new_bucket_name(tag: str) -> str:
    """A bucket name no other test uses (lower case, 3-63 characters)."""
    return f"ms-{tag}-{uuid.uuid4().hex[:10]}"


def rclone_env(server) -> dict:
    """rclone's environment: the remote `s3r` for `server` when it is an
    S3Server (else for s3() when s3rver runs), and `azr` for Azurite when it
    runs (or for `server` when it is an AzureServer)."""
    env = {k: v for k, v in os.environ.items()
           if k != "AWS_CA_BUNDLE" and not k.startswith("RCLONE_")}
    try:
        azure = server if isinstance(server, AzureServer) else azurite()
        env.update({
            "RCLONE_CONFIG_AZR_TYPE": "azureblob",
            "RCLONE_CONFIG_AZR_SAS_URL": f"{azure.url}?{account_sas(azure)}",
        })
    except ServicesNotRunning:
        pass
    if not isinstance(server, S3Server):
        try:
            server = s3()
        except ServicesNotRunning:
            return env
    env.update({
        "RCLONE_CONFIG_S3R_TYPE": "s3",
        "RCLONE_CONFIG_S3R_PROVIDER": "Other",
        "RCLONE_CONFIG_S3R_ACCESS_KEY_ID": server.access_key_id,
        "RCLONE_CONFIG_S3R_SECRET_ACCESS_KEY": server.secret_access_key,
        "RCLONE_CONFIG_S3R_ENDPOINT": server.url,
        "RCLONE_CONFIG_S3R_FORCE_PATH_STYLE": "true",
        "RCLONE_CONFIG_S3R_REGION": "us-east-1",
    })
    return env


def rclone(server, *args: str) -> subprocess.CompletedProcess:
    # --fast-list: one flat listing. s3rver leaves prefixes holding only other
    # prefixes out of delimiter listings, so rclone's walk would miss a/b/c.
    return subprocess.run(["rclone", "--config", "/dev/null", "--fast-list", *args],
                          env=rclone_env(server),
                          capture_output=True, text=True, timeout=RCLONE_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def rclone_check(server, source: str, target: str, *flags: str) -> str:
    """Runs `rclone check SOURCE TARGET`; raises AssertionError unless it finds
    0 differences. Returns its report."""
    result = rclone(server, "check", source, target, *flags)
    report = result.stdout + result.stderr
    if result.returncode != 0 or "0 differences found" not in report:
        raise AssertionError(f"rclone check {source} {target} found differences:\n{report}")
    return report


def rclone_list(server, remote: str) -> List[str]:
    """Every object's path under `remote`, sorted (rclone lsf -R --files-only)."""
    result = rclone(server, "lsf", "-R", "--files-only", remote)
    if result.returncode != 0:
        raise AssertionError(f"rclone lsf {remote} failed:\n{result.stderr}")
    return sorted(line for line in result.stdout.split("\n") if line)


def open_uploads(server: S3Server, bucket: str) -> List[str]:
    """Multipart uploads begun and neither completed nor aborted. s3rver has no
    ListMultipartUploads, so they are read from its folder."""
    uploads = os.path.join(server.data_dir, bucket, "._S3rver_uploads")
    return sorted(os.listdir(uploads)) if os.path.isdir(uploads) else []


def azure_blob_names(server: AzureServer, container: str, uncommitted: bool = False) -> List[str]:
    """The names of the blobs of `container` (List Blobs straight from Azurite;
    with `uncommitted`, also blobs that have only uncommitted blocks, i.e. a
    block upload begun and never committed). Empty when the container is
    missing."""
    names: List[str] = []
    marker = ""
    while True:
        query = {"restype": "container", "comp": "list"}
        if uncommitted:
            query["include"] = "uncommittedblobs"
        if marker:
            query["marker"] = marker
        url = (f"{server.url}/{container}?{urllib.parse.urlencode(query)}&"
               f"{account_sas(server)}")
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = response.read().decode()
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return []
            raise
        names += [html_unescape(n) for n in re.findall(r"<Name>([^<]*)</Name>", body)]
        found = re.search(r"<NextMarker>([^<]+)</NextMarker>", body)
        if not found:
            return sorted(names)
        marker = html_unescape(found.group(1))


def open_block_uploads(server: AzureServer, container: str) -> List[str]:
    """Blobs with blocks uploaded but never committed (and no committed
    content): what a block upload cut short leaves."""
    committed = set(azure_blob_names(server, container))
    return [n for n in azure_blob_names(server, container, uncommitted=True)
            if n not in committed]


def node_ctl(name: str, action: str) -> None:
    """Stops or starts s3rver or Azurite (tests/services/node-ctl.sh; data
    kept); raises on failure."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "services",
                          "node-ctl.sh")
    result = subprocess.run([script, name, action], capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise AssertionError(f"node-ctl.sh {name} {action} failed: {result.stderr.strip()}")
