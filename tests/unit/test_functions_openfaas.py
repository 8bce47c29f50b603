"""OpenFaaS settings as fnflow function configurations: durations, memory, limits, async policy, runtimes."""

from __future__ import annotations

from typing import Any

import pytest

from fnflow.functions.config import AsyncPolicy
from fnflow.functions.openfaas import Deployment, Ignored, function_config, parse_duration, parse_memory


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30), ("2.5", 2.5), ("30s", 30), ("5m1s", 301), ("1.5h", 5400), ("300ms", 0.3), ("1h2m3s", 3723)],
)
def test_durations_read_as_go_and_the_watchdogs_do(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "m", "1x", "-1s", "1s2"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "mib"),
    [
        ("128Mi", 128),
        ("1Gi", 1024),
        ("40Mi", 40),
        ("128M", 123),  # 128 000 000 bytes, rounded up to whole MiB
        ("1G", 954),
        ("128m", 128),  # Docker's (binary) megabytes, not Kubernetes' millibytes
        ("256MB", 256),
        ("2g", 2048),
        ("1048576", 1),
        ("0.5Gi", 512),
    ],
)
def test_memory_quantities_in_mib(text: str, mib: int) -> None:
    assert parse_memory(text) == mib


@pytest.mark.parametrize("text", ["", "lots", "12XB", "Mi"])
def test_what_is_not_a_memory_quantity(text: str) -> None:
    with pytest.raises(ValueError, match="is not a memory size"):
        parse_memory(text)


def config(**fields: Any) -> tuple[Any, list[str]]:
    made, notes = function_config(Deployment(name="fn", **fields), service="svc")
    return made, [str(n) for n in notes]


def test_the_language_picks_the_python_runtime_and_its_handler() -> None:
    expected = {
        "python3": ("python3-classic", "handler.handle"),
        "python3-http": ("python3-http", "handler.handle"),
        "python3-flask": ("python3-flask", "handler.handle"),
        "python3-fc": ("python3", "index.handler"),
    }
    for lang, (runtime, handler) in expected.items():
        made, notes = config(lang=lang)
        assert (made.runtime, made.handler, made.command, notes) == (runtime, handler, "", []), lang


def test_an_upstream_wins_over_fprocess_which_wins_over_the_language() -> None:
    proxied, _ = config(lang="python3", fprocess="cat", annotations={"fnflow.upstream": "http://u/f"})
    by_env, _ = config(lang="node18", environment={"upstream": "http://u/g"})
    forked, _ = config(lang="python3-http", fprocess="sleep 1")
    from_env, _ = config(lang="go", environment={"fprocess": "./handler"})
    assert (proxied.runtime, proxied.upstream, proxied.command) == ("http", "http://u/f", "")
    assert (by_env.runtime, by_env.upstream) == ("http", "http://u/g")
    assert (forked.runtime, forked.command) == ("command", "sleep 1")
    assert (from_env.runtime, from_env.command) == ("command", "./handler")


def test_languages_that_need_a_container_are_refused_with_the_way_out() -> None:
    with pytest.raises(ValueError, match=r"language 'node18' needs a container.*fprocess"):
        config(lang="node18")
    with pytest.raises(ValueError, match="no fprocess: set ENV fprocess in its Dockerfile"):
        config(lang="dockerfile")


def test_timeout_is_the_smaller_of_exec_and_write_timeout() -> None:
    both, _ = config(lang="python3", environment={"exec_timeout": "5m", "write_timeout": "30s"})
    exec_off, _ = config(lang="python3", environment={"exec_timeout": "0", "write_timeout": "1m5s"})
    neither, _ = config(lang="python3")
    broken, notes = config(lang="python3", environment={"write_timeout": "soon"})
    assert (both.timeout, exec_off.timeout, neither.timeout, broken.timeout) == (30, 65, 60, 60)
    assert notes == ["fn: environment.write_timeout ignored: 'soon' is not a duration (like 30s, 5m1s or 1h)"]


def test_max_inflight_sets_max_instances_before_the_scale_max_label() -> None:
    both, notes = config(
        lang="python3", environment={"max_inflight": "5"}, labels={"com.openfaas.scale.max": "10"}
    )
    label_only, _ = config(lang="python3", labels={"com.openfaas.scale.max": "10"})
    unlimited, _ = config(
        lang="python3", environment={"max_inflight": "0"}, labels={"com.openfaas.scale.max": "3"}
    )
    assert (both.max_instances, label_only.max_instances, unlimited.max_instances) == (5, 10, 3)
    assert notes == [
        "fn: labels.com.openfaas.scale.max ignored: environment.max_inflight sets the maximum of instances"
    ]


def test_limits_memory_and_what_has_no_effect() -> None:
    made, notes = config(
        lang="python3",
        limits={"memory": "40Mi", "cpu": "100m"},
        labels={"com.openfaas.scale.zero": "true", "team": "a"},
        annotations={"com.openfaas.health.http.path": "/ready", "topic": "payments"},
        environment={"read_timeout": "10s", "marshal_request": "true"},
    )
    assert made.memory_mb == 64
    assert made.limits == {"memory": "40Mi", "cpu": "100m"}, "kept as given, to be shown as deployed"
    assert (made.labels, made.annotations) == (
        {"com.openfaas.scale.zero": "true", "team": "a"},
        {"com.openfaas.health.http.path": "/ready", "topic": "payments"},
    )
    assert notes == [
        "fn: environment.read_timeout ignored: fnflow reads a request before it calls the function",
        "fn: environment.marshal_request ignored: the body always reaches stdin as it came",
        "fn: limits.cpu ignored: fnflow limits memory, not CPU",
        "fn: limits.memory ignored: 40Mi is below fnflow's minimum of 64 MB, which applies",
        "fn: labels.com.openfaas.scale.zero ignored:"
        " fnflow does not autoscale: instances start on demand up to the maximum",
        "fn: annotations.com.openfaas.health.http.path ignored: fnflow checks no health:"
        " it watches its own processes",
    ]


def test_the_scale_min_label_sets_the_warm_instances() -> None:
    assert config(lang="python3", labels={"com.openfaas.scale.min": "2"})[0].min_instances == 2
    assert config(lang="python3")[0].min_instances == 0, "none: instances start on demand"
    above, notes = config(
        lang="python3", labels={"com.openfaas.scale.min": "9", "com.openfaas.scale.max": "3"}
    )
    assert (above.min_instances, above.max_instances) == (3, 3)
    assert notes == [
        "fn: labels.com.openfaas.scale.min ignored: 9 is above the maximum of 3 instances, which applies"
    ]
    bad, notes = config(lang="python3", labels={"com.openfaas.scale.min": "two"})
    assert bad.min_instances == 0
    assert notes == ["fn: labels.com.openfaas.scale.min ignored: 'two' is not a whole number of instances"]


def test_image_secrets_and_requests_are_kept_as_deployed() -> None:
    made, _ = config(
        lang="python3",
        image="ghcr.io/acme/fn:1",
        secrets=("db-password",),
        requests={"memory": "5Mi"},
        constraints=("node.platform.os == linux",),
    )
    assert (made.image, made.secrets, made.requests, made.constraints) == (
        "ghcr.io/acme/fn:1",
        ("db-password",),
        {"memory": "5Mi"},
        ("node.platform.os == linux",),
    )


def test_annotations_make_the_async_policy() -> None:
    made, notes = config(
        lang="python3",
        annotations={
            "com.openfaas.queue": "slow-queue",
            "com.openfaas.retry.attempts": "30",
            "com.openfaas.retry.codes": "429 502, 500",
            "com.openfaas.retry.min_wait": "5s",
            "com.openfaas.retry.max_wait": "1m",
            "fnflow.max_event_age": "2h",
            "fnflow.on_failure": "http://127.0.0.1:9000/failed",
        },
    )
    assert made.async_policy == AsyncPolicy(
        retries=29,
        retry_codes=(429, 502, 500),
        min_wait=5,
        max_wait=60,
        max_event_age=7200,
        queue="slow-queue",
        on_failure="http://127.0.0.1:9000/failed",
    )
    assert notes == []
    made.validate()


def test_invalid_retry_annotations_fall_back_to_the_defaults_with_a_note() -> None:
    made, notes = config(
        lang="python3",
        annotations={"com.openfaas.retry.attempts": "many", "com.openfaas.retry.codes": "429,999"},
    )
    assert (made.async_policy.retries, made.async_policy.retry_codes) == (3, AsyncPolicy().retry_codes)
    assert [n.split(" ignored: ")[0] for n in notes] == [
        "fn: annotations.com.openfaas.retry.attempts",
        "fn: annotations.com.openfaas.retry.codes",
    ]


def test_a_note_says_where_and_why() -> None:
    assert str(Ignored("fn", "image", "no images")) == "fn: image ignored: no images"
    assert str(Ignored("", "configuration", "no templates")) == "configuration ignored: no templates"
