"""Known CloudFormation/SAM resource type names (which of them samlite runs is the type
registry's `emulated_types()`: a type is emulated when a module in `types/` handles it).

`resource_types.txt` lists every type CloudFormation publishes (and SAM's), so a real type that
samlite does not run (`AWS::ApiGateway::DomainNameV2`) is only a "not emulated" warning, while a
misspelling (`AWS::Serverless::Functon`) gets a "did you mean" error. A type under a known service
that is in neither list (newer than the file) is still only a warning.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from samlite.template.types.registry import is_registered


def _published_types() -> frozenset[str]:
    text = (Path(__file__).with_name("resource_types.txt")).read_text()
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))

_SERVICES: dict[str, str] = {
    "Serverless": "Function Api HttpApi SimpleTable LayerVersion Application StateMachine "
                  "Connector GraphQLApi CapacityProvider",
    "Lambda": "Function EventSourceMapping Url LayerVersion LayerVersionPermission Permission "
              "Alias Version EventInvokeConfig CodeSigningConfig CapacityProvider",
    "SQS": "Queue QueuePolicy QueueInlinePolicy",
    "SNS": "Topic TopicPolicy Subscription TopicInlinePolicy",
    "ApiGateway": "RestApi Stage Deployment Resource Method Authorizer ApiKey UsagePlan "
                  "UsagePlanKey DomainName BasePathMapping Model RequestValidator Account "
                  "GatewayResponse VpcLink DocumentationPart ClientCertificate",
    "ApiGatewayV2": "Api Stage Route Integration Authorizer Deployment DomainName ApiMapping "
                    "VpcLink RouteResponse IntegrationResponse Model",
    "IAM": "Role Policy ManagedPolicy User Group InstanceProfile AccessKey ServiceLinkedRole "
           "OIDCProvider UserToGroupAddition RolePolicy",
    "DynamoDB": "Table GlobalTable",
    "S3": "Bucket BucketPolicy AccessPoint",
    "Events": "Rule EventBus EventBusPolicy Archive Connection ApiDestination",
    "Scheduler": "Schedule ScheduleGroup",
    "StepFunctions": "StateMachine Activity StateMachineAlias StateMachineVersion",
    "Logs": "LogGroup LogStream SubscriptionFilter MetricFilter ResourcePolicy Destination",
    "CloudWatch": "Alarm Dashboard CompositeAlarm",
    "KMS": "Key Alias",
    "SecretsManager": "Secret SecretTargetAttachment RotationSchedule ResourcePolicy",
    "SSM": "Parameter Document Association",
    "EC2": "VPC Subnet SecurityGroup SecurityGroupIngress SecurityGroupEgress InternetGateway "
           "VPCGatewayAttachment RouteTable Route SubnetRouteTableAssociation NatGateway EIP "
           "VPCEndpoint Instance LaunchTemplate NetworkInterface KeyPair Volume",
    "Kinesis": "Stream StreamConsumer",
    "KinesisFirehose": "DeliveryStream",
    "Cognito": "UserPool UserPoolClient UserPoolDomain IdentityPool IdentityPoolRoleAttachment "
               "UserPoolGroup UserPoolUser UserPoolResourceServer",
    "CloudFront": "Distribution CloudFrontOriginAccessIdentity OriginAccessControl Function "
                  "CachePolicy OriginRequestPolicy ResponseHeadersPolicy",
    "Route53": "RecordSet HostedZone RecordSetGroup HealthCheck",
    "CertificateManager": "Certificate",
    "CloudFormation": "Stack CustomResource WaitCondition WaitConditionHandle Macro",
    "AppSync": "GraphQLApi GraphQLSchema DataSource Resolver ApiKey FunctionConfiguration",
    "Athena": "WorkGroup NamedQuery DataCatalog",
    "Glue": "Database Table Crawler Job Connection",
    "SES": "ConfigurationSet EmailIdentity Template ReceiptRule ReceiptRuleSet",
    "Pinpoint": "App EmailChannel SMSChannel Segment Campaign",
    "ECS": "Cluster Service TaskDefinition",
    "ECR": "Repository",
    "EFS": "FileSystem MountTarget AccessPoint",
    "RDS": "DBInstance DBCluster DBSubnetGroup DBProxy DBParameterGroup",
    "ElastiCache": "CacheCluster ReplicationGroup SubnetGroup",
    "WAFv2": "WebACL WebACLAssociation IPSet RuleGroup",
    "XRay": "Group SamplingRule",
    "CodeDeploy": "Application DeploymentGroup DeploymentConfig",
    "Pipes": "Pipe",
    "MediaConvert": "JobTemplate Preset Queue",
    "MediaPackage": "Channel OriginEndpoint PackagingGroup PackagingConfiguration Asset",
    "MediaPackageV2": "Channel ChannelGroup OriginEndpoint",
    "MediaLive": "Channel Input InputSecurityGroup",
    "MediaStore": "Container",
    "Bedrock": "Agent KnowledgeBase DataSource Guardrail AgentAlias Flow",
    "Comprehend": "DocumentClassifier EntityRecognizer Flywheel",
    "Translate": "Terminology",
    "OpenSearchService": "Domain",
    "Elasticsearch": "Domain",
    "AutoScaling": "AutoScalingGroup LaunchConfiguration ScalingPolicy",
    "ApplicationAutoScaling": "ScalableTarget ScalingPolicy",
    "ElasticLoadBalancingV2": "LoadBalancer Listener TargetGroup ListenerRule",
    "IoT": "TopicRule Thing Policy Certificate",
    "MSK": "Cluster",
    "AmazonMQ": "Broker Configuration",
    "EventSchemas": "Registry Schema Discoverer",
    "Budgets": "Budget",
    "CodeBuild": "Project",
    "CodePipeline": "Pipeline",
    "CodeCommit": "Repository",
    "Backup": "BackupPlan BackupVault BackupSelection",
    "Config": "ConfigRule",
    "CloudTrail": "Trail",
    "GuardDuty": "Detector",
    "Synthetics": "Canary",
    "Timestream": "Database Table",
    "Location": "Map PlaceIndex RouteCalculator Tracker",
    "Rekognition": "Collection",
    "Textract": "AdapterVersion",
    "SageMaker": "Model Endpoint EndpointConfig NotebookInstance Domain",
}

_PARAMETER_LIKE = {"AWS::EC2::SecurityGroup::Id", "AWS::EC2::Subnet::Id", "AWS::EC2::VPC::Id"}

KNOWN_TYPES = frozenset(
    f"AWS::{service}::{name}" for service, names in _SERVICES.items() for name in names.split()
) | _published_types()
KNOWN_SERVICES = frozenset(_SERVICES) | frozenset(t.split("::")[1] for t in KNOWN_TYPES if t.count("::") == 2)
_SAM_TYPES = [t for t in KNOWN_TYPES if t.startswith("AWS::Serverless::")]


def classify(type_name: str) -> tuple[str, str | None]:
    """("known"|"custom"|"plausible"|"unknown", suggestion) for a resource type name."""
    if type_name in KNOWN_TYPES or is_registered(type_name):  # a type module makes a name known
        return "known", None
    if type_name.startswith("Custom::") or type_name == "AWS::CloudFormation::CustomResource":
        return "custom", None
    parts = type_name.split("::")
    candidates = _SAM_TYPES if type_name.startswith("AWS::Serverless::") else sorted(KNOWN_TYPES)
    close = difflib.get_close_matches(type_name, candidates, n=1, cutoff=0.8)
    if type_name.startswith("AWS::Serverless::"):
        return "unknown", (close[0] if close else None)
    if close and close[0].lower() != type_name.lower() and _near_miss(type_name, close[0]):
        return "unknown", close[0]
    if len(parts) == 3 and parts[0] == "AWS" and parts[1] in KNOWN_SERVICES and parts[2].isidentifier():
        return "plausible", None
    if len(parts) == 3 and parts[0] == "AWS" and all(p.isidentifier() for p in parts[1:]):
        return "plausible" if type_name not in _PARAMETER_LIKE else "unknown", None
    return "unknown", (close[0] if close else None)


def _near_miss(name: str, known: str) -> bool:
    """A typo (1-2 edits in the resource part), not a different type of the same service."""
    a, b = name.rsplit("::", 1)[-1], known.rsplit("::", 1)[-1]
    same_service = name.rsplit("::", 1)[0] == known.rsplit("::", 1)[0]
    similar = difflib.SequenceMatcher(None, a, b).ratio() >= 0.8 or sorted(a) == sorted(b)
    return same_service and similar
