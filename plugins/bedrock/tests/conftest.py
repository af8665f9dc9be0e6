"""Bedrock test set-up: the helper module on the path and a process env without AWS."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; the helpers need it.
sys.path.insert(0, str(Path(__file__).parent))

from bedrock_fakes import AK, SK, WORK_AK, WORK_SK, WORK_TOKEN

from plugbay.testing.server import FakeServer

_AWS_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
             "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE",
             "AWS_SHARED_CREDENTIALS_FILE", "AWS_BEARER_TOKEN_BEDROCK", "AWS_ENDPOINT_URL",
             "AWS_ENDPOINT_URL_BEDROCK", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
             "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


@pytest.fixture(autouse=True)
def _no_host_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Tests never see the developer's AWS set-up, and never wait on instance metadata."""
    for var in _AWS_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    yield


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as srv:
        yield srv


@pytest.fixture
def aws_files(tmp_path: Path) -> dict[str, str]:
    """Shared config and credentials files with a default and a ``work`` profile."""
    config = tmp_path / "config"
    config.write_text(textwrap.dedent("""\
        [default]
        region = eu-west-3

        [profile work]
        region = us-west-2

        [profile bedrock-role]
        role_arn = arn:aws:iam::123456789012:role/bedrock
        source_profile = work
        region = us-west-2
        """))
    creds = tmp_path / "credentials"
    creds.write_text(textwrap.dedent(f"""\
        [default]
        aws_access_key_id = {AK}
        aws_secret_access_key = {SK}

        [work]
        aws_access_key_id = {WORK_AK}
        aws_secret_access_key = {WORK_SK}
        aws_session_token = {WORK_TOKEN}
        """))
    return {"AWS_CONFIG_FILE": str(config), "AWS_SHARED_CREDENTIALS_FILE": str(creds)}
