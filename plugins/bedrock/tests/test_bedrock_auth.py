"""Credentials the boto3 way (files, profiles, env, roles with refresh, bearer keys),
each request's SigV4 signature recomputed independently by the fake server."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
import textwrap

import pytest
from bedrock_fakes import (
    AK,
    CONVERSE,
    MODEL,
    SK,
    WORK_AK,
    WORK_SK,
    WORK_TOKEN,
    aws_error,
    check_sigv4,
    converse_body,
    make,
    signed,
    static,
    sts_reply,
)

import plugbay
from plugbay import errors
from plugbay.testing.replies import Reply
from plugbay.testing.server import FakeServer, RecordedRequest

pytestmark = pytest.mark.timeout(30)


async def test_wrong_secret_is_rejected_by_the_signature_check(server: FakeServer) -> None:
    server.add("POST", CONVERSE, signed(Reply.json(converse_body()), {AK: SK},
                                        region="us-east-1"))
    async with make(server, aws_access_key_id=AK, aws_secret_access_key="not-the-secret",
                    region="us-east-1") as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert caught.value.status == 403 and caught.value.code == "InvalidSignatureException"
    assert "not-the-secret" not in str(caught.value) + repr(caught.value.body)
    async with static(server) as client:  # the right secret passes the same check
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "hi"


async def test_tampered_body_fails_the_check(server: FakeServer) -> None:
    # The checker really covers the payload: a signed request with another body fails.
    server.add("POST", CONVERSE, Reply.json(converse_body()))
    async with static(server) as client:
        await client.acomplete(f"bedrock/{MODEL}", "hi")
    req = server.last
    assert check_sigv4(req, {AK: SK}, region="us-east-1") is None
    forged = RecordedRequest(req.method, req.url, req.path, req.query, req.headers,
                             req.body.replace(b"hi", b"yo"))
    assert "does not match" in (check_sigv4(forged, {AK: SK}, region="us-east-1") or "")


async def test_profile_from_env_files_and_region_from_profile(
        server: FakeServer, aws_files: dict[str, str]) -> None:
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("from work")),
                                        {WORK_AK: WORK_SK}, region="us-west-2",
                                        token=WORK_TOKEN))
    env = {**aws_files, "AWS_PROFILE": "work"}
    async with make(server, env) as client:
        result = await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert result.text == "from work"
    assert "/us-west-2/bedrock/aws4_request" in server.last.headers["authorization"]


async def test_profile_option_and_default_profile(server: FakeServer,
                                                  aws_files: dict[str, str]) -> None:
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("w")), {WORK_AK: WORK_SK},
                                        region="us-west-2", token=WORK_TOKEN))
    async with make(server, aws_files, profile="work") as client:
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "w"
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("d")), {AK: SK},
                                        region="eu-west-3"))
    async with make(server, aws_files) as client:  # no profile: [default] and its region
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "d"


async def test_env_keys_win_over_files_and_region_env(server: FakeServer,
                                                      aws_files: dict[str, str]) -> None:
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("env")),
                                        {"AKIAFROMENVIRONMENT1": "env-secret"},
                                        region="ap-south-1", token="env-token"))
    env = {**aws_files, "AWS_PROFILE": "work", "AWS_ACCESS_KEY_ID": "AKIAFROMENVIRONMENT1",
           "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "env-token",
           "AWS_REGION": "ap-south-1"}
    async with make(server, env) as client:
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "env"


async def test_process_environment_is_used_too(server: FakeServer, aws_files: dict[str, str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {**aws_files, "AWS_PROFILE": "work"}.items():
        monkeypatch.setenv(k, v)
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("os")), {WORK_AK: WORK_SK},
                                        region="us-west-2", token=WORK_TOKEN))
    client = plugbay.Client({"providers": {"bedrock": {"base_url": server.url}}})
    async with client:
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "os"


async def test_role_assumption_and_refresh_when_expiring(
        server: FakeServer, aws_files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)  # botocore's own STS client
    soon = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)  # inside the refresh window
    sts = server.add("POST", "/", signed(sts_reply("ASIAROLEFIRST0000001", "first-secret",
                                                    "first-token", soon),
                                         {WORK_AK: WORK_SK}, region="us-west-2", service="sts"),
                     signed(sts_reply("ASIAROLESECOND000002", "second-secret", "second-token",
                                       soon + dt.timedelta(hours=2)),
                            {WORK_AK: WORK_SK}, region="us-west-2", service="sts"))
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("role")),
                                        {"ASIAROLEFIRST0000001": "first-secret",
                                         "ASIAROLESECOND000002": "second-secret"},
                                        region="us-west-2"))
    async with make(server, {**aws_files, "AWS_PROFILE": "bedrock-role"}) as client:
        for _ in range(3):
            assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "role"
    calls = [r for r in server.requests if CONVERSE.fullmatch(r.path)]
    keys = [r.headers["authorization"].split("Credential=")[1][:20] for r in calls]
    # The first credentials expire within botocore's refresh window, so they are replaced
    # before the first signature; the fresh ones are then reused.
    assert keys == ["ASIAROLESECOND000002"] * 3
    assert sts.hits == 2
    assert calls[-1].headers["x-amz-security-token"] == "second-token"


async def test_concurrent_first_calls_resolve_credentials_once(
        server: FakeServer, aws_files: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", server.url)
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=2)
    sts = server.add("POST", "/", signed(sts_reply("ASIAROLEONLY00000001", "only-secret",
                                                    "only-token", later),
                                         {WORK_AK: WORK_SK}, region="us-west-2", service="sts"))
    server.add("POST", CONVERSE, signed(Reply.json(converse_body("one")),
                                        {"ASIAROLEONLY00000001": "only-secret"},
                                        region="us-west-2", token="only-token"))
    async with make(server, aws_files, profile="bedrock-role") as client:
        results = await asyncio.gather(*[client.acomplete(f"bedrock/{MODEL}", "hi")
                                         for _ in range(8)])
    assert [r.text for r in results] == ["one"] * 8
    assert sts.hits == 1


async def test_bearer_token_from_env_and_option(server: FakeServer) -> None:
    server.add("POST", CONVERSE, Reply.json(converse_body("bearer")))
    env = {"AWS_BEARER_TOKEN_BEDROCK": "ABSKbedrockapikey123", "AWS_REGION": "us-east-1"}
    async with make(server, env) as client:
        assert (await client.acomplete(f"bedrock/{MODEL}", "hi")).text == "bearer"
    req = server.last
    assert req.headers["authorization"] == "Bearer ABSKbedrockapikey123"
    assert "x-amz-date" not in req.headers
    async with make(server, {}, api_key="ABSKoption", region="us-east-1") as client:
        await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert server.last.headers["authorization"] == "Bearer ABSKoption"
    server.add("POST", CONVERSE, aws_error("UnrecognizedClientException", "bad key", 403))
    async with make(server, env) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.acomplete(f"bedrock/{MODEL}", "hi")
    assert "ABSKbedrockapikey123" not in str(caught.value)


async def test_no_credentials_is_a_missing_key_error_and_health_down(server: FakeServer) -> None:
    async with make(server, {}, region="us-east-1") as client:
        with pytest.raises(errors.MissingAPIKeyError, match="AWS_BEARER_TOKEN_BEDROCK"):
            await client.acomplete(f"bedrock/{MODEL}", "hi")
        (health,) = await client.ahealth("bedrock")
    assert health.status == "down"
    assert server.requests == []


async def test_no_region_anywhere_is_a_config_error(server: FakeServer) -> None:
    client = plugbay.Client({"providers": {"bedrock": {
        "aws_access_key_id": AK, "aws_secret_access_key": SK}}}, env={})
    async with client:
        with pytest.raises(errors.ConfigError, match="no AWS region"):
            await client.acomplete(f"bedrock/{MODEL}", "hi")
        (health,) = await client.ahealth("bedrock")
    assert health.status == "down"


def test_no_boto_at_import_and_none_in_bearer_mode(server: FakeServer) -> None:
    server.add("POST", CONVERSE, Reply.json(converse_body("lazy")))
    code = textwrap.dedent(f"""
        import sys, plugbay, plugbay_bedrock
        assert not [m for m in sys.modules if m.startswith(("boto", "botocore"))]
        c = plugbay.Client({{"providers": {{"bedrock": {{"base_url": "{server.url}",
            "api_key": "ABSKtoken", "region": "us-east-1"}}}}}}, env={{}})
        print(c.complete("bedrock/{MODEL}", "hi").text)
        print(sorted({{m.split(".")[0] for m in sys.modules if "boto" in m}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split("\n")
    assert out[:2] == ["lazy", "[]"]
    timing = subprocess.run([sys.executable, "-X", "importtime", "-c", "import plugbay"],
                            capture_output=True, text=True, timeout=60, check=True).stderr
    assert "boto" not in timing
