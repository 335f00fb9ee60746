"""The S3 test server (s3rver, started by tests/services/start.sh) and rclone,
the reference client the S3 tests compare megasync's results with.

    from object_stores import s3, rclone_check
    server = s3()                       # URL, keys, data folder
    rclone_check(server, "/tmp/src", "s3r:bucket")   # fails the test on differences

rclone runs with `--config /dev/null`, `--fast-list` and an on-the-fly remote named `s3r`
(RCLONE_CONFIG_S3R_* variables), and without AWS_CA_BUNDLE, which breaks its
S3 backend on machines that set it.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
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


def new_bucket_name(tag: str) -> str:
    """A bucket name no other test uses (lower case, 3-63 characters)."""
    return f"ms-{tag}-{uuid.uuid4().hex[:10]}"


def rclone_env(server: S3Server) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k != "AWS_CA_BUNDLE" and not k.startswith("RCLONE_")}
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


def rclone(server: S3Server, *args: str) -> subprocess.CompletedProcess:
    # --fast-list: one flat listing. s3rver leaves prefixes holding only other
    # prefixes out of delimiter listings, so rclone's walk would miss a/b/c.
    return subprocess.run(["rclone", "--config", "/dev/null", "--fast-list", *args],
                          env=rclone_env(server),
                          capture_output=True, text=True, timeout=RCLONE_TIMEOUT,
                          stdin=subprocess.DEVNULL)


def rclone_check(server: S3Server, source: str, target: str, *flags: str) -> str:
    """Runs `rclone check SOURCE TARGET`; raises AssertionError unless it finds
    0 differences. Returns its report."""
    result = rclone(server, "check", source, target, *flags)
    report = result.stdout + result.stderr
    if result.returncode != 0 or "0 differences found" not in report:
        raise AssertionError(f"rclone check {source} {target} found differences:\n{report}")
    return report


def rclone_list(server: S3Server, remote: str) -> List[str]:
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
