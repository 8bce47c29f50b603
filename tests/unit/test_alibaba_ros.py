"""ROS and Funcraft templates into stack plans: resources, intrinsics, parameters, conditions,
roles, code, and every kind of bad input said with its resource and line (no server needed)."""

from __future__ import annotations

import base64
import json
import textwrap
from pathlib import Path

import pytest
import yaml

from fnflow.compat.alibaba import ros
from fnflow.compat.alibaba.ros.roles import scope_of
from fnflow.functions import codepkg

OPTIONS = ros.Options("demo", "cn-shanghai", "1234", endpoint="http://127.0.0.1:9000")
INDEX = "def handler(event, context):\n    return {}\n\ndef init(context):\n    pass\n"


def load(tmp_path: Path, template: str, files: dict[str, str] | None = None, **options: object) -> ros.Loaded:
    for name, text in {"code/index.py": INDEX, **(files or {})}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    path = tmp_path / "template.yml"
    path.write_text(textwrap.dedent(template))
    opts = OPTIONS if not options else ros.Options(**{**OPTIONS.__dict__, **options})  # type: ignore[arg-type]
    return ros.load(path, opts)


def problems(
    tmp_path: Path, template: str, files: dict[str, str] | None = None, **options: object
) -> list[str]:
    with pytest.raises(ros.TemplateError) as caught:
        load(tmp_path, template, files, **options)
    return [str(p) for p in caught.value.problems]


FUNCRAFT = """\
    ROSTemplateFormatVersion: '2015-09-01'
    Transform: 'Aliyun::Serverless-2018-04-03'
    Description: an app
    Resources:
      Jobs:
        Type: 'Aliyun::Serverless::Flow'
        Properties:
          DefinitionUri: flow.yml
      Svc:
        Type: 'Aliyun::Serverless::Service'
        Properties:
          Policies: [AliyunFnFFullAccess]
          LogConfig: {Project: p, Logstore: s}
        Api:
          Type: 'Aliyun::Serverless::Function'
          Properties:
            Handler: index.handler
            Initializer: index.init
            InitializationTimeout: 5
            Runtime: python3.9
            CodeUri: ./code/
            EnvironmentVariables: {MODE: fast, N: 3}
          Events:
            web:
              Type: HTTP
              Properties: {AuthType: anonymous, Methods: [GET, post]}
            tick:
              Type: Timer
              Properties: {CronExpression: '@every 5m', Payload: hi, Enable: false}
        Work:
          Type: 'Aliyun::Serverless::Function'
          Properties: {Handler: index.handler, Runtime: python2.7, CodeUri: code/index.py, Timeout: 60}
    Outputs:
      url:
        Value: !Sub 'https://${ALIYUN::AccountId}.${ALIYUN::Region}.fc.aliyuncs.com/2016-08-15/proxy/${Svc.ServiceName}/${SvcApi.FunctionName}/'
      arn:
        Value: !Ref Svc/Work
"""
FLOW = "version: v1\ntype: flow\nsteps:\n  - type: task\n    name: w\n    resourceArn: !Ref Svc/Work\n"


def test_a_funcraft_app_becomes_a_plan(tmp_path: Path) -> None:
    loaded = load(tmp_path, FUNCRAFT, {"flow.yml": FLOW})
    plan = loaded.plan
    api, work = sorted(plan.functions, key=lambda f: f.config.name)
    assert (api.config.service, api.config.name, api.config.runtime, api.logical_id) == (
        "Svc",
        "Api",
        "python3",
        "SvcApi",
    )
    assert api.config.environment == {"MODE": "fast", "N": "3"}
    assert (api.config.initializer, api.config.initialization_timeout, api.config.timeout) == (
        "index.init",
        5,
        3,
    )
    assert api.config.role == "admin"  # AliyunFnFFullAccess
    assert codepkg.check(api.code) is None
    assert (work.config.timeout, work.config.memory_mb) == (60, 128)
    web, tick = sorted(plan.triggers, key=lambda t: t.spec.kind)
    assert (web.spec.kind, web.spec.auth_type, web.spec.methods) == ("http", "ANONYMOUS", ("GET", "POST"))
    assert (tick.spec.cron_expression, tick.spec.payload, tick.spec.enabled) == ("@every 5m", "hi", False)
    (flow,) = plan.flows
    assert flow.name == "Jobs"
    assert yaml.safe_load(flow.definition)["steps"][0]["resourceArn"] == (
        "acs:fc:cn-shanghai:1234:services/Svc/functions/Work"
    )
    outputs = {o.name: o.value for o in loaded.draft.outputs}
    assert outputs["url"] == "http://127.0.0.1:9000/2016-08-15/proxy/Svc/Api/"  # on this server
    assert outputs["arn"] == "acs:fc:cn-shanghai:1234:services/Svc/functions/Work"
    assert [w.message for w in loaded.draft.warnings] == [
        "LogConfig is ignored: it means nothing on one machine"
    ]
    assert loaded.draft.description == "an app"


def test_a_definition_file_without_functions_is_kept_as_written(tmp_path: Path) -> None:
    plain = "version: v1\ntype: flow\nsteps:\n  - {type: pass, name: p}\n"
    loaded = load(tmp_path, FUNCRAFT, {"flow.yml": plain})
    assert loaded.plan.flows[0].definition == plain


ROS = """\
    ROSTemplateFormatVersion: '2015-09-01'
    Parameters:
      Topic: {Type: String, Default: news}
      Env: {Type: String, AllowedValues: [dev, prod], Default: dev}
      Size: {Type: Number, Default: 2048}
    Conditions:
      IsProd: !Equals [!Ref Env, prod]
      NotProd: !Not [!Condition IsProd]
      Both: !And [!Condition NotProd, !Or [true, !Condition IsProd]]
    Resources:
      Role:
        Type: ALIYUN::RAM::Role
        Properties:
          RoleName: app-role
          Policies:
            - PolicyName: p
              PolicyDocument:
                Version: '1'
                Statement:
                  - Effect: Allow
                    Action: [fnf:Start*, fnf:Describe*, fnf:List*, fnf:Get*, fnf:Stop*, fnf:Report*]
                  - {Effect: Allow, Action: ['fnf:CreateFlow']}
      Service:
        Type: ALIYUN::FC::Service
        Properties:
          ServiceName: !Join ['-', [svc, !Ref Env]]
          Role: !Sub 'acs:ram::${ALIYUN::AccountId}:role/app-role'
      Fn:
        Type: ALIYUN::FC::Function
        DependsOn: [Service, Ghost]
        Properties:
          ServiceName: !GetAtt Service.ServiceName
          FunctionName: hello
          Handler: main.go
          Runtime: python3
          Code:
            SourceCode: "def go(event, context):\\n    return 'hi'\\n"
          Description: !If [IsProd, production, !Ref ALIYUN::NoValue]
      Web:
        Type: ALIYUN::FC::Trigger
        Properties:
          ServiceName: !GetAtt Fn.ServiceName
          FunctionName: !GetAtt Fn.FunctionName
          TriggerName: web
          TriggerType: http
          TriggerConfig: {AuthType: function, Methods: [GET]}
      Flow:
        Type: ALIYUN::FNF::Flow
        Properties:
          Name: !Replace [{'<t>': !Ref Topic, '[x]': '<t>'}, "flow-[x]"]
          Definition: |
            version: v1
            type: flow
            steps:
              - {type: pass, name: p}
      Schedule:
        Type: ALIYUN::FNF::Schedule
        Condition: Both
        Properties:
          FlowName: !GetAtt Flow.Name
          ScheduleName: nightly
          CronExpression: '0 0 3 * * *'
          Payload: '{"a": 1}'
      ProdOnly:
        Type: ALIYUN::MNS::Queue
        Condition: IsProd
        Properties: {QueueName: prod-only}
      Queue:
        Type: ALIYUN::MNS::Queue
        Properties: {QueueName: jobs, VisibilityTimeout: 60}
      News:
        Type: ALIYUN::MNS::Topic
        Properties: {TopicName: !Ref Topic, MaximumMessageSize: !Ref Size}
      Sub:
        Type: ALIYUN::MNS::Subscription
        Properties:
          TopicName: !GetAtt News.TopicName
          SubscriptionName: to-fn
          Endpoint: !GetAtt Fn.ARN
          NotifyContentFormat: JSON
    Outputs:
      picked: {Value: !Select [1, !Split [',', 'a,b,c']]}
      trigger: {Value: !GetAtt Web.UrlInternet}
      prod: {Value: yes, Condition: IsProd}
"""


def test_a_ros_template_with_parameters_conditions_and_intrinsics(tmp_path: Path) -> None:
    loaded = load(tmp_path, ROS)
    plan = loaded.plan
    (fn,) = plan.functions
    assert (fn.config.service, fn.config.name, fn.config.handler, fn.config.description) == (
        "svc-dev",
        "hello",
        "main.go",
        "",
    )
    # the role allows more than invoke (CreateFlow) but not all of admin: invoke, and a warning
    assert fn.config.role == "invoke"
    (trigger,) = plan.triggers
    assert (trigger.spec.service, trigger.spec.function, trigger.spec.auth_type) == (
        "svc-dev",
        "hello",
        "FUNCTION",
    )
    assert [f.name for f in plan.flows] == ["flow-news"]
    (schedule,) = plan.schedules
    assert (schedule.flow, schedule.spec.payload, schedule.spec.enabled) == ("flow-news", {"a": 1}, True)
    assert [q.name for q in plan.queues] == ["jobs"] and plan.queues[0].attributes.visibility_timeout == 60
    assert [(t.name, t.attributes.maximum_message_size) for t in plan.topics] == [("news", 2048)]
    (sub,) = plan.subscriptions
    assert (sub.topic, sub.endpoint) == ("news", "acs:fc:cn-shanghai:1234:services/svc-dev/functions/hello")
    outputs = {o.name: o.value for o in loaded.draft.outputs}
    assert outputs == {"picked": "b", "trigger": "http://127.0.0.1:9000/2016-08-15/proxy/svc-dev/hello/"}
    warnings = [str(w) for w in loaded.draft.warnings]
    assert any("Ghost" in w and "not a resource" in w for w in warnings)
    assert any("fnf:CreateFlow" in w and "scope invoke" in w for w in warnings)

    prod = load(tmp_path, ROS, parameters={"Env": "prod", "Topic": "t2"}).plan
    assert [q.name for q in prod.queues] == ["prod-only", "jobs"]
    assert prod.schedules == () and prod.functions[0].config.description == "production"


def test_inline_source_is_named_after_the_handler(tmp_path: Path) -> None:
    (fn,) = load(tmp_path, ROS).plan.functions
    import io
    import zipfile

    assert zipfile.ZipFile(io.BytesIO(fn.code)).namelist() == ["main.py"]


def test_a_template_in_json(tmp_path: Path) -> None:
    template = {
        "ROSTemplateFormatVersion": "2015-09-01",
        "Resources": {
            "Q": {"Type": "ALIYUN::MNS::Queue", "Properties": {"QueueName": {"Fn::Join": ["", ["a", "b"]]}}}
        },
    }
    assert [q.name for q in load(tmp_path, json.dumps(template)).plan.queues] == ["ab"]


def test_zip_code_and_a_zip_file(tmp_path: Path) -> None:
    package = codepkg.pack_files({"index.py": INDEX.encode()})
    (tmp_path / "code.zip").write_bytes(package)
    template = f"""\
        Resources:
          S: {{Type: ALIYUN::FC::Service, Properties: {{ServiceName: s}}}}
          A:
            Type: ALIYUN::FC::Function
            Properties: {{ServiceName: s, FunctionName: a, Handler: index.handler, Runtime: python3,
                          Code: {{ZipFile: {base64.b64encode(package).decode()}}}}}
          B:
            Type: 'Aliyun::Serverless::Service'
            F:
              Type: 'Aliyun::Serverless::Function'
              Properties: {{Handler: index.handler, Runtime: python3, CodeUri: code.zip}}
    """
    plan = load(tmp_path, template).plan
    assert [f.code for f in plan.functions] == [package, package]
    assert [f.config.role for f in plan.functions] == ["report-task", "report-task"]  # no role: the floor


def test_parameters_missing_unknown_or_wrong(tmp_path: Path) -> None:
    template = """\
        Parameters:
          Name: {Type: String, MinLength: 3}
          Count: {Type: Number, Default: 1, MaxValue: 5}
        Resources:
          Q: {Type: ALIYUN::MNS::Queue, Properties: {QueueName: !Ref Name}}
    """
    found = problems(tmp_path, template, parameters={"Nmae": "x"})
    assert found[0].startswith(
        "template.yml: unknown parameter Nmae (the template's parameters: Name, Count)"
    )
    assert found[1] == "template.yml:2:3: parameter Name has no default: pass --parameter Name=…"
    found = problems(tmp_path, template, parameters={"Name": "ab", "Count": "9"})
    assert found == [
        "template.yml:2:3: parameter Name: 'ab' must be at least 3 characters",
        "template.yml:3:3: parameter Count: '9' must be at most 5",
    ]
    assert problems(tmp_path, template, parameters={"Name": "abc", "Count": "many"}) == [
        "template.yml:3:3: parameter Count: 'many' is not a Number"
    ]


def test_a_cycle_of_refs_names_it(tmp_path: Path) -> None:
    template = """\
        Resources:
          A: {Type: ALIYUN::MNS::Queue, Properties: {QueueName: !GetAtt B.QueueName}}
          B: {Type: ALIYUN::MNS::Queue, Properties: {QueueName: !Sub '${A}-b'}}
    """
    assert problems(tmp_path, template) == ["template.yml:3:46: resource B: a cycle of references: A → B → A"]


def test_unsupported_types_name_themselves_and_their_lines(tmp_path: Path) -> None:
    template = """\
        Resources:
          Disk: {Type: ALIYUN::ECS::Disk, Properties: {Size: 20}}
          Q: {Type: ALIYUN::MNS::Queue, Properties: {QueueName: q}}
          Bucket:
            Type: ALIYUN::OSS::Bucket
    """
    found = problems(tmp_path, template)
    assert [p.split(" (fnflow deploys")[0] for p in found] == [
        "template.yml:2:10: resource Disk: unsupported resource type ALIYUN::ECS::Disk",
        "template.yml:5:5: resource Bucket: unsupported resource type ALIYUN::OSS::Bucket",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("!Ref Nope", "'Nope' is not a parameter or a resource of the template"),
        ("!GetAtt Q.Color", "resource Q has no attribute 'Color' (it has: ARN, QueueName, QueueUrl)"),
        ("{'Fn::Frobnicate': [1]}", "unknown intrinsic function Fn::Frobnicate"),
        ("!Ref ALIYUN::Galaxy", "unknown pseudo-parameter ALIYUN::Galaxy"),
        ("!Select [5, [a, b]]", "Fn::Select: index 5 is outside the list of 2"),
        ("!Replace [{a: ba}, a]", "Fn::Replace does not end: a replacement brings back a key it replaces"),
        ("!If [Nope, a, b]", "'Nope' is not a condition of the template (it has: none)"),
        ("!Join [',', notalist]", "Fn::Join joins a list, not a string"),
    ],
)
def test_bad_intrinsics_say_what_and_where(tmp_path: Path, value: str, message: str) -> None:
    template = f"""\
        Resources:
          Q: {{Type: ALIYUN::MNS::Queue, Properties: {{QueueName: q}}}}
          T:
            Type: ALIYUN::MNS::Topic
            Properties:
              TopicName: {value}
    """
    (found,) = problems(tmp_path, template)
    assert found.startswith("template.yml:6:") and f"resource T: {message}" in found, found


def test_sub_variables_and_literals(tmp_path: Path) -> None:
    template = """\
        Resources:
          T:
            Type: ALIYUN::MNS::Topic
            Properties:
              TopicName: !Sub ['${a}-${ALIYUN::StackName}-x', {a: !Ref ALIYUN::Region}]
          Q:
            Type: ALIYUN::MNS::Queue
            Properties: {QueueName: !Sub '${T}'}
    """
    plan = load(tmp_path, template).plan
    assert [t.name for t in plan.topics] == ["cn-shanghai-demo-x"]
    assert [q.name for q in plan.queues] == ["cn-shanghai-demo-x"]


def test_missing_code_and_handlers_are_said_before_anything(tmp_path: Path) -> None:
    template = """\
        Resources:
          S:
            Type: 'Aliyun::Serverless::Service'
            A:
              Type: 'Aliyun::Serverless::Function'
              Properties: {Handler: index.handler, Runtime: python3, CodeUri: nowhere/}
            B:
              Type: 'Aliyun::Serverless::Function'
              Properties: {Handler: index.missing, Runtime: python3, CodeUri: code}
            C:
              Type: 'Aliyun::Serverless::Function'
              Properties: {Handler: other.handler, Initializer: index.nope, Runtime: python3, CodeUri: code}
            D:
              Type: 'Aliyun::Serverless::Function'
              Properties: {Handler: index.handler, Runtime: nodejs12, CodeUri: code}
            E:
              Type: 'Aliyun::Serverless::Function'
              Properties: {Runtime: python3, CodeUri: code}
    """
    found = problems(tmp_path, template)
    assert "template.yml:15:44: resource SD: runtime nodejs12 is not supported" in found[0]
    assert found[1] == "template.yml:18:7: resource SE: Aliyun::Serverless::Function needs Handler"
    found = problems(
        tmp_path,
        template.replace("nodejs12", "python3").replace(
            "{Runtime: python3, CodeUri", "{Handler: index.handler, Runtime: python3, CodeUri"
        ),
    )
    assert found[0].startswith("template.yml:4:5: resource SA: function A: CodeUri nowhere/ does not exist")
    assert found[1] == "template.yml:9:20: resource SB: handler index.missing: index.py defines no missing"
    assert found[2] == "template.yml:12:20: resource SC: handler other.handler: the code has no other.py"
    assert found[3] == "template.yml:12:20: resource SC: initializer index.nope: index.py defines no nope"


def test_events_and_qualifiers_that_cannot_run_here(tmp_path: Path) -> None:
    template = """\
        Resources:
          S:
            Type: 'Aliyun::Serverless::Service'
            F:
              Type: 'Aliyun::Serverless::Function'
              Properties: {Handler: index.handler, Runtime: python3, CodeUri: code}
              Events:
                up: {Type: OSS, Properties: {BucketName: b}}
    """
    (found,) = problems(tmp_path, template)
    assert found.startswith("template.yml:8:14: resource SF: unsupported event type OSS")
    aliased = template.replace(
        "{Type: OSS, Properties: {BucketName: b}}",
        "{Type: HTTP, Properties: {AuthType: ANONYMOUS, Methods: [GET], Qualifier: prod}}",
    )
    (found,) = problems(tmp_path, aliased)
    assert "Qualifier prod: versions and aliases are not supported" in found


def test_a_syntax_error_has_its_line(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "Resources:\n  A: [\n")
    assert found.startswith("template.yml:3:1: invalid YAML")


@pytest.mark.parametrize(
    ("policies", "scope"),
    [
        (["AliyunFnFFullAccess"], "admin"),
        (["AliyunFCFullAccess", "AliyunFnFReadOnlyAccess"], "report-task"),
        (
            [
                {
                    "Statement": [
                        {"Effect": "Allow", "Action": "fnf:*"},
                        {"Effect": "Deny", "Action": "fnf:Delete*"},
                    ]
                }
            ],
            "invoke",
        ),
        ([{"Statement": [{"Effect": "Allow", "Action": ["*"]}]}], "admin"),
        ([], "report-task"),
    ],
)
def test_role_policies_map_onto_scopes(policies: list[object], scope: str) -> None:
    assert scope_of(policies).scope == scope
