"""Stack files read into fnflow functions: the lab's long-task, templates, envsubst, what is ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from fnflow.functions.config import AsyncPolicy
from fnflow.stack import StackError, dockerfile_fprocess, envsubst, load_stack

# What `faas-cli new --lang dockerfile long-task` writes, as OpenFaaS lab 7 uses it.
LONG_TASK_YML = """\
version: 1.0
provider:
  name: openfaas
  gateway: http://127.0.0.1:8080
functions:
  long-task:
    lang: dockerfile
    handler: ./long-task
    image: ${DOCKER_USER:-alexellis2}/long-task:latest
"""
LAB_DOCKERFILE = """\
FROM openfaas/classic-watchdog:0.18.1 as watchdog
FROM alpine:3.9
RUN mkdir -p /home/app
COPY --from=watchdog /fwatchdog /usr/bin/fwatchdog
WORKDIR /home/app
USER app
# Populate example here - i.e. "cat", "sha512sum" or "node index.js"
ENV fprocess="sleep 1"
# Set to true to see request in function logs
ENV write_debug="false"
EXPOSE 8080
CMD ["fwatchdog"]
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_the_labs_long_task_is_a_command_function_from_its_dockerfile(tmp_path: Path) -> None:
    write(tmp_path, {"long-task.yml": LONG_TASK_YML, "long-task/Dockerfile": LAB_DOCKERFILE})
    stack = load_stack(tmp_path / "long-task.yml", environ={})
    [function] = stack.functions
    assert (function.config.name, function.config.service) == ("long-task", "default")
    assert (function.config.runtime, function.config.command) == ("command", "sleep 1")
    assert function.code_dir == tmp_path / "long-task"
    assert stack.gateway == "http://127.0.0.1:8080"
    assert stack.ignored == [], "the image is kept as metadata"
    assert function.config.image == "alexellis2/long-task:latest"
    function.config.validate()


def test_fprocess_in_the_stack_wins_over_the_dockerfile_and_no_folder_means_no_code(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "stack.yml": """\
provider: {name: openfaas}
functions:
  a: {lang: dockerfile, handler: ./a, fprocess: "cat"}
  b: {lang: dockerfile, handler: ./b, environment: {fprocess: "wc -c"}}
  c: {lang: dockerfile, handler: ./missing, fprocess: "sha512sum"}
""",
            "a/Dockerfile": LAB_DOCKERFILE,
            "b/Dockerfile": LAB_DOCKERFILE,
        },
    )
    a, b, c = load_stack(tmp_path / "stack.yml", environ={}).functions
    assert (a.config.command, b.config.command, c.config.command) == ("cat", "wc -c", "sha512sum")
    assert (a.code_dir, c.code_dir) == (tmp_path / "a", None)


def test_a_python3_http_function_with_every_setting(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "stack.yml": """\
version: 1.0
provider:
  name: openfaas
functions:
  url-ping:
    lang: python3-http
    handler: ./url-ping
    image: ${REGISTRY}/url-ping:${TAG:-0.2}
    environment:
      write_timeout: 5m1s
      exec_timeout: 5m
      max_inflight: 5
      debug: true
    environment_file: [env.yml, env2.yml]
    secrets: [s3-access-key]
    labels: {com.openfaas.scale.max: "10", app: pinger}
    annotations: {com.openfaas.queue: slow-queue, com.openfaas.retry.attempts: "5"}
    limits: {memory: 256Mi, cpu: 100m}
    requests: {memory: 20Mi}
    constraints: ["lowmem=true"]
    readonly_root_filesystem: true
    build_args: {PYTHON_VERSION: "3.12"}
    platforms: linux/amd64
    colour: blue
configuration:
  templates: [{name: python3-http}]
""",
            "env.yml": "environment:\n  A: from-file-1\n  B: from-file-1\n  debug: false\n",
            "env2.yml": "environment:\n  B: from-file-2\n",
            "url-ping/handler.py": "def handle(event, context):\n    return None\n",
        },
    )
    stack = load_stack(tmp_path / "stack.yml", environ={"REGISTRY": "r.example"})
    [function] = stack.functions
    config = function.config
    assert (config.runtime, config.handler, config.timeout, config.max_instances, config.memory_mb) == (
        "python3-http",
        "handler.handle",
        300,
        5,
        256,
    )
    assert config.environment == {
        "write_timeout": "5m1s",
        "exec_timeout": "5m",
        "max_inflight": "5",
        "debug": "false",
        "A": "from-file-1",
        "B": "from-file-2",
    }
    assert config.labels == {"com.openfaas.scale.max": "10", "app": "pinger"}
    assert (config.image, config.secrets) == ("r.example/url-ping:0.2", ("s3-access-key",))
    assert (config.limits, config.requests) == ({"memory": "256Mi", "cpu": "100m"}, {"memory": "20Mi"})
    assert config.async_policy == AsyncPolicy(retries=4, queue="slow-queue")
    assert function.code_dir == tmp_path / "url-ping"
    assert [(n.function, n.field) for n in stack.ignored] == [
        ("", "configuration"),
        ("url-ping", "build_args"),
        ("url-ping", "platforms"),
        ("url-ping", "constraints"),
        ("url-ping", "requests"),
        ("url-ping", "readonly_root_filesystem"),
        ("url-ping", "colour"),
        ("url-ping", "labels.com.openfaas.scale.max"),
        ("url-ping", "limits.cpu"),
    ]
    assert all(n.reason for n in stack.ignored)


def test_envsubst_as_faas_cli() -> None:
    env = {"SET": "value", "EMPTY": ""}
    assert envsubst("${SET} $SET ${UNSET} $UNSET.", env) == "value value  ."
    assert envsubst("${SET:-d} ${UNSET:-d} ${EMPTY:-d} [${EMPTY-d}] ${UNSET-d}", env) == "value d d [] d"
    assert envsubst("${UNSET:=d} ${EMPTY=d}", env) == "d "
    assert envsubst("cost: 5$ and $1 and ^a$", env) == "cost: 5$ and $1 and ^a$"


def test_namespaces_are_services_unless_one_is_given(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "stack.yml": """\
provider: {name: openfaas}
functions:
  a: {lang: dockerfile, fprocess: cat}
  b: {lang: dockerfile, fprocess: cat, namespace: openfaas-fn}
  c: {lang: dockerfile, fprocess: cat, namespace: staging}
""",
        },
    )
    services = [f.config.service for f in load_stack(tmp_path / "stack.yml", environ={}).functions]
    forced = [f.config.service for f in load_stack(tmp_path / "stack.yml", service="x", environ={}).functions]
    assert (services, forced) == (["default", "default", "staging"], ["x", "x", "x"])


def test_select_picks_functions_by_wildcard(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "stack.yml": """\
functions:
  resize-small: {lang: dockerfile, fprocess: cat}
  resize-large: {lang: dockerfile, fprocess: cat}
  broken: {lang: node18}
""",
        },
    )
    names = [
        f.config.name for f in load_stack(tmp_path / "stack.yml", select="resize-*", environ={}).functions
    ]
    assert names == ["resize-small", "resize-large"]
    with pytest.raises(StackError, match="no function matches 'nothing'"):
        load_stack(tmp_path / "stack.yml", select="nothing", environ={})
    with pytest.raises(StackError, match="function broken: language 'node18' needs a container"):
        load_stack(tmp_path / "stack.yml", environ={})


def test_an_upstream_annotation_makes_a_proxy_without_code(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "stack.yml": """\
functions:
  remote:
    lang: python3-http
    handler: ./remote
    annotations: {fnflow.upstream: "http://gateway.internal:8080/function/remote"}
""",
            "remote/handler.py": "def handle(event, context):\n    return None\n",
        },
    )
    [function] = load_stack(tmp_path / "stack.yml", environ={}).functions
    assert (function.config.runtime, function.config.upstream, function.code_dir) == (
        "http",
        "http://gateway.internal:8080/function/remote",
        None,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("functions: []\n", "needs a 'functions' mapping"),
        ("provider: {name: kubernetes}\nfunctions: {}\n", "provider.name must be openfaas"),
        (
            "functions:\n  f: {lang: python3, handler: ./nowhere}\n",
            "the handler folder ./nowhere has no code",
        ),
        ("functions:\n  f: {lang: python3}\n", "the handler folder (none) has no code"),
        (
            "functions:\n  f: {lang: dockerfile, fprocess: cat, environment: [a]}\n",
            "environment must be a mapping",
        ),
        (
            "functions:\n  'bad name': {lang: dockerfile, fprocess: cat}\n",
            "function name 'bad name' must match",
        ),
        ('functions:\n  f: {lang: dockerfile, fprocess: "sh -c \'x"}\n', "cannot be split into words"),
        ("functions: {f: [\n", "expected"),
    ],
)
def test_stack_errors_name_the_file_and_function(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "stack.yml").write_text(text)
    with pytest.raises(StackError, match=str(tmp_path / "stack.yml")) as error:
        load_stack(tmp_path / "stack.yml", environ={})
    assert message in str(error.value)


def test_dockerfile_fprocess_forms(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text('ENV fprocess="cat"\nenv A=1 fprocess="wc -l" B=2\n')
    assert dockerfile_fprocess(dockerfile) == "wc -l"
    dockerfile.write_text("ENV fprocess sha512sum -\n")
    assert dockerfile_fprocess(dockerfile) == "sha512sum -"
    assert dockerfile_fprocess(tmp_path / "none") == ""
