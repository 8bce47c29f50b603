"""Alibaba's RPC signature: the worked example of the spec, and agreement with the real SDK's signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
from aliyunsdkcore.auth.composer import rpc_signature_composer
from hypothesis import given
from hypothesis import strategies as st

from fnflow.compat.alibaba import signature
from fnflow.compat.alibaba.signature import SignatureProblem, claim, matches, sign, string_to_sign

COMMON = {
    "Version": "2019-03-15",
    "Format": "JSON",
    "RegionId": "cn-hangzhou",
    "Timestamp": "2019-08-15T10:00:00Z",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureType": "",
    "SignatureVersion": "1.0",
    "SignatureNonce": "3f2504e04f8941d39a0c0305e82c3301",
    "AccessKeyId": "testid",
}
NOW = datetime(2019, 8, 15, 10, 0, 0, tzinfo=UTC)


def test_the_worked_example_of_a_get() -> None:
    params = {**COMMON, "Action": "DescribeExecution", "FlowName": "my-flow", "ExecutionName": "exec-1"}
    assert string_to_sign("GET", params) == (
        "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeExecution%26ExecutionName%3Dexec-1"
        "%26FlowName%3Dmy-flow%26Format%3DJSON%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1"
        "%26SignatureNonce%3D3f2504e04f8941d39a0c0305e82c3301%26SignatureType%3D%26SignatureVersion%3D1.0"
        "%26Timestamp%3D2019-08-15T10%253A00%253A00Z%26Version%3D2019-03-15"
    )
    assert sign("GET", params, "testsecret") == "UJVN5sxb2KCmVcPk8B97fWkIzLo="


def test_the_worked_example_of_a_post_signs_the_decoded_form() -> None:
    params = {
        **COMMON,
        "Action": "StartExecution",
        "FlowName": "my-flow",
        "ExecutionName": "exec-1",
        "Input": '{"k": "v w"}',  # sent as Input=%7B%22k%22%3A+%22v+w%22%7D
    }
    assert sign("POST", params, "testsecret") == "e2dn4WXqD+xUhqRbIWljZwNBiXw="
    assert matches("POST", {**params, "Signature": "e2dn4WXqD+xUhqRbIWljZwNBiXw="}, "testsecret")
    assert not matches("POST", {**params, "Signature": "e2dn4WXqD+xUhqRbIWljZwNBiXw="}, "other")
    assert not matches("GET", {**params, "Signature": "e2dn4WXqD+xUhqRbIWljZwNBiXw="}, "testsecret")
    assert not matches("POST", params, "testsecret")  # no signature at all


values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@given(
    query=st.dictionaries(st.from_regex(r"[A-Z][A-Za-z]{0,12}", fullmatch=True), values, max_size=5),
    body=st.dictionaries(st.from_regex(r"[a-z][A-Za-z_]{0,12}", fullmatch=True), values, max_size=5),
    method=st.sampled_from(["GET", "POST"]),
)
def test_what_the_sdk_signs_verifies(query: dict[str, str], body: dict[str, str], method: str) -> None:
    """The real SDK's composer signs; the server's check, over what it receives, agrees."""
    url, _ = rpc_signature_composer.get_signed_url(dict(query), "id", "s3cr3t", "JSON", method, body)
    received = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    received.update(body)
    assert matches(method, received, "s3cr3t")
    assert not matches(method, received, "s3cr3t!")


def test_claim_reads_who_and_when() -> None:
    params = {**COMMON, "Signature": "x", "SecurityToken": "tok"}
    seen = claim(params, NOW + timedelta(minutes=14))
    assert (seen.key_id, seen.nonce, seen.security_token) == ("testid", COMMON["SignatureNonce"], "tok")
    assert seen.expires == NOW + signature.WINDOW
    assert claim({**params, "Timestamp": "2019-08-15T10:00:00.123Z"}, NOW).timestamp.microsecond == 123000


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Signature": ""}, "MissingRequiredParams"),
        ({"SignatureNonce": ""}, "MissingRequiredParams"),
        ({"AccessKeyId": ""}, "MissingRequiredParams"),
        ({"SignatureMethod": "HMAC-SHA256"}, "InvalidArgument"),
        ({"SignatureVersion": "2.0"}, "InvalidArgument"),
        ({"SignatureNonce": "n" * 65}, "InvalidArgument"),
        ({"Timestamp": "yesterday"}, "InvalidArgument"),
        ({"Timestamp": "2019-08-15T09:44:59Z"}, "RequestTimeTooSkewed"),
        ({"Timestamp": "2019-08-15T10:15:01Z"}, "RequestTimeTooSkewed"),
    ],
)
def test_claim_refuses(change: dict[str, str], code: str) -> None:
    with pytest.raises(SignatureProblem) as raised:
        claim({**COMMON, "Signature": "x", **change}, NOW)
    assert raised.value.code == code


def test_signed_means_a_key_or_a_signature_is_given() -> None:
    assert signature.is_signed({"AccessKeyId": "a"}) and signature.is_signed({"Signature": "s"})
    assert not signature.is_signed({"Action": "ListFlows"})
