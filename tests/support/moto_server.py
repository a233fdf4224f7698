"""Runs a moto server on 127.0.0.1 with a free port, for the black-box tests.

Prints the port on one line, then serves until its standard input closes, which
happens when the test process that started it exits, however it exits.

moto 5 serves API Gateway v2's GetApis, GetStage(s), GetRoutes and CreateStage, but not
UpdateStage or DeleteRouteSettings, and its tagging calls do not reach a stage's `tags`. This
file adds a small stand-in for exactly those calls to moto's own v2 backend (so GetStage reads
what they wrote), following the AWS API reference:
https://docs.aws.amazon.com/apigatewayv2/latest/api-reference/apis-apiid-stages-stagename.html
- UpdateStage replaces each settings object it is given: `defaultRouteSettings` whole, and in
  `routeSettings` each route key's object whole (other route keys stay). A
  `defaultRouteSettings` without the throttling fields reads back as rate 0 / burst 0, the
  trap tools fall into when they clear an HTTP API stage's throttling. A route key the API has
  no route for is a BadRequestException.
- UpdateStage refuses execution-log fields (`dataTraceEnabled`, `loggingLevel`) in any settings
  object of an HTTP API: "Execution logs are not supported on protocolType HTTP"
  (terraform-provider-aws issues 13801, 14010). GetStage still reports them as
  `dataTraceEnabled: false`, `loggingLevel: OFF` (the less convenient reading where the
  reference is silent), so a tool that sends back what it read is refused.
- DeleteRouteSettings removes one route key's object, throttling, detailed metrics and all
  (NotFoundException if there is none).
- TagResource / UntagResource on a stage's ARN change the tags GetStage returns.
- An API's id is ten lower-case letters and digits, as AWS makes them (moto makes eight).

moto's UpdateUsagePlan stores rates as whole numbers and ignores a method's throttle in an API
stage of the plan; the stand-in follows the AWS API reference for UsagePlan (rateLimit is a
double) and takes the paths the AWS provider for Terraform sends:
`replace /apiStages/<api>:<stage>/throttle/<path>/<METHOD>/rateLimit` (and `burstLimit`), and
`remove /apiStages/<api>:<stage>/throttle/<path>/<METHOD>`; an API stage the plan does not cover
is a BadRequestException.

UpdateUsagePlan is limited to about one call every 20 s per account (API Gateway quotas page);
moto never refuses it. For a plan whose name starts with `paced-`, the stand-in refuses an
UpdateUsagePlan that comes less than PACED_PLAN_WINDOW seconds after the last one it accepted
for that plan, as if a deploy pipeline's call had landed just before the first one, with
TooManyRequestsException as AWS does, and lists each call's time and outcome at `GET /_stand_in/plan_calls/<plan id>`.

moto's TagResource and UntagResource on API Gateway take a stage's ARN only; the stand-in takes a
usage plan's (`arn:aws:apigateway:<region>::/usageplans/<id>`), as the AWS API reference's
TagResource allows, and changes the tags GetUsagePlan(s) return
(https://docs.aws.amazon.com/apigateway/latest/api/API_TagResource.html).

moto's REST UpdateStage creates a method's settings entry with moto's own defaults and ignores
`remove` of an entry. The stand-in follows AWS (API reference, Stage and MethodSetting; the AWS
CLI `apigateway update-stage` examples; terraform-provider-aws issue 9738): an entry created by
a patch starts from AWS's defaults (metrics, caching and execution logs off, log level OFF, cache
TTL 300 s; throttling at the account's 10,000/5,000, the less convenient choice where the
reference is silent), never a copy of `*/*`; `remove /{key}` deletes the whole entry, and
removing an entry that is not there is a BadRequestException, as AWS answers.

A stage's `lastUpdatedDate` (Stage in the API Gateway reference: "The timestamp when the stage
last updated"; HTTP APIs: `lastUpdatedDate`, "The timestamp when the stage was last updated").
moto's REST stage has none, and its v2 stage never moves it. The reference does not say which
calls move it. The stand-in takes the less convenient reading for a tool that keeps records in
tags, and the less convenient for one that must tell its own decision from a record put back:
every TagResource and UntagResource on a stage moves it, an UpdateStage moves it only when the
stage it returns differs, and CreateDeployment to a stage moves it. A caller whose access key
starts with `undated-` tags without moving it, as AWS would if tags were not part of the stage:
the other reading, for a record put back by someone who may only tag. REST dates are epoch seconds
(the REST API's JSON), HTTP API dates ISO 8601, both to the second.
moto's REST CreateDeployment to a stage that exists makes a new stage, dropping its settings and
tags; AWS points the stage at the new deployment and keeps the rest (CreateDeployment,
`stageName`: "The name of the Stage resource for the Deployment resource to create"; the AWS
CLI's `create-deployment` example redeploys an existing stage). The stand-in does the latter.

moto's STS lets anyone assume any role. To stand in for a role whose trust policy does not
trust the caller, AssumeRole of a role named `untrusted-…` is refused as STS refuses it
(https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): AccessDenied.
"""
import json
import random
import re
import string
import sys
import time
from urllib.parse import unquote

import moto.apigateway.urls as v1_urls
import moto.apigatewayv2.urls as v2_urls
from moto.apigatewayv2.models import Api, apigatewayv2_backends
from moto.apigatewayv2.models import Stage as V2Stage
from moto.iam.models import get_account_id_from
from moto.server import ThreadedMotoServer
from moto.apigateway.exceptions import BadRequestException
from moto.core.exceptions import JsonRESTError
from moto.apigateway.models import Stage, UsagePlan, apigateway_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend

STAGE_ARN = re.compile(r"arn:aws:apigateway:([^:]*)::/apis/([^/]+)/stages/([^/]+)$")


def _error(status, kind, message):
    return status, {"x-amzn-ErrorType": kind}, json.dumps({"message": message})


def _caller_key(request):
    match = re.search(r"Credential=([^/]+)/", request.headers.get("Authorization", ""))
    return match.group(1) if match else ""


def _backend(request):
    auth = request.headers.get("Authorization", "")
    match = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/", auth)
    access_key, region = (match.group(1), match.group(2)) if match else ("", "us-east-1")
    return apigatewayv2_backends[get_account_id_from(access_key)][region]


def _stage(backend, api_id, stage_name):
    api = backend.apis.get(api_id)
    if api is None:
        return None, None
    return api, api.stages.get(stage_name)


def update_stage(request, full_url, headers):
    parts = request.path.split("/")
    api_id, stage_name = parts[3], unquote(parts[5])
    api, stage = _stage(_backend(request), api_id, stage_name)
    if stage is None:
        return _error(404, "NotFoundException", f"Invalid stage identifier specified {stage_name}")
    body = json.loads(request.get_data() or b"{}")
    routes = body.get("routeSettings") or {}
    known = {route.route_key for route in api.routes.values()}
    for key in routes:
        if key not in known:
            return _error(
                400,
                "BadRequestException",
                f"Unable to find Route by key {key} within the provided RouteSettings",
            )
    objects = list(routes.values())
    if "defaultRouteSettings" in body:
        objects.append(body["defaultRouteSettings"])
    if any("dataTraceEnabled" in o or "loggingLevel" in o for o in objects):
        return _error(400, "BadRequestException", "Execution logs are not supported on protocolType HTTP")
    before = json.dumps(stage.to_json(), sort_keys=True, default=str)
    if "defaultRouteSettings" in body:
        settings = dict(body["defaultRouteSettings"])
        settings.setdefault("throttlingBurstLimit", 0)
        settings.setdefault("throttlingRateLimit", 0.0)
        stage.default_route_settings = settings
    for key, settings in routes.items():
        stage.route_settings[key] = dict(settings)
    if "description" in body:
        stage.description = body["description"]
    if json.dumps(stage.to_json(), sort_keys=True, default=str) != before:
        stage.stand_in_updated = time.time()
    return 200, {}, json.dumps(stage.to_json())


def _reported(settings):
    """A settings object as GetStage reports it: execution-log fields at their defaults."""
    if settings is None:
        return None
    return {"dataTraceEnabled": False, "loggingLevel": "OFF", **settings}


_moto_v2_stage_json = V2Stage.to_json


def _v2_stage_json(self):
    dct = _moto_v2_stage_json(self)
    # In UTC whatever the machine's zone (moto dates v2 stages in local time).
    updated = getattr(self, "stand_in_updated", None) or time.time()
    dct["lastUpdatedDate"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(updated))
    dct["defaultRouteSettings"] = _reported(dct.get("defaultRouteSettings"))
    dct["routeSettings"] = {k: _reported(v) for k, v in (dct.get("routeSettings") or {}).items()}
    return dct


V2Stage.to_json = _v2_stage_json
_moto_v2_stage_init = V2Stage.__init__


def _v2_stage_init(self, *args, **kwargs):
    _moto_v2_stage_init(self, *args, **kwargs)
    self.stand_in_updated = time.time()


V2Stage.__init__ = _v2_stage_init


def delete_route_settings(request, full_url, headers):
    parts = request.path.split("/")
    api_id, stage_name, route_key = parts[3], unquote(parts[5]), unquote("/".join(parts[7:]))
    _, stage = _stage(_backend(request), api_id, stage_name)
    if stage is None or route_key not in stage.route_settings:
        return _error(404, "NotFoundException", f"Unable to find RouteSettings {route_key}")
    del stage.route_settings[route_key]
    return 204, {}, ""


def stage_tags(request, full_url, headers):
    arn = unquote(request.path.split("/v2/tags/", 1)[1])
    match = STAGE_ARN.match(arn)
    if not match:
        return _error(400, "BadRequestException", f"Invalid resource ARN {arn}")
    _, stage = _stage(_backend(request), match.group(2), match.group(3))
    if stage is None:
        return _error(404, "NotFoundException", f"Unable to find resource {arn}")
    # A tag write dates the stage (see the module's text), but an `undated-` caller's.
    if not _caller_key(request).startswith("undated-"):
        stage.stand_in_updated = time.time()
    if request.method == "POST":
        stage.tags.update(json.loads(request.get_data() or b"{}").get("tags", {}))
        return 201, {}, "{}"
    for key in request.args.getlist("tagKeys"):
        stage.tags.pop(key, None)
    return 204, {}, ""


def plan_tags(request, full_url, headers):
    auth = request.headers.get("Authorization", "")
    match = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/", auth)
    access_key, region = (match.group(1), match.group(2)) if match else ("", "us-east-1")
    backend = apigateway_backends[get_account_id_from(access_key)][region]
    plan_id = unquote(request.path).rsplit("/usageplans/", 1)[1]
    plan = backend.usage_plans.get(plan_id)
    if plan is None:
        return _error(404, "NotFoundException", "Invalid Usage Plan ID specified")
    if not isinstance(plan.tags, dict):
        plan.tags = {}
    if request.method == "PUT":
        plan.tags.update(json.loads(request.get_data() or b"{}").get("tags", {}))
        return 204, {}, ""
    for key in request.args.getlist("tagKeys"):
        plan.tags.pop(key, None)
    return 204, {}, ""


def plan_calls(request, full_url, headers):
    plan_id = unquote(request.path).rsplit("/", 1)[1]
    calls = [{"at": at, "accepted": ok} for at, ok in PLAN_CALLS.get(plan_id, [])]
    return 200, {}, json.dumps(calls)


def stage_or_update(request, full_url, headers):
    if request.method == "PATCH":
        return update_stage(request, full_url, headers)
    return v2_urls.ApiGatewayV2Response.dispatch(request, full_url, headers)


_moto_api_init = Api.__init__


def _api_init(self, region, *args, **kwargs):
    _moto_api_init(self, region, *args, **kwargs)
    self.api_id = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(10))
    self.api_endpoint = f"https://{self.api_id}.execute-api.{region}.amazonaws.com"


Api.__init__ = _api_init

_moto_plan_patch = UsagePlan.apply_patch_operations
API_STAGE_THROTTLE = re.compile(r"^/apiStages/([^:/]+):([^/]+)/throttle/(.+?)(?:/(rateLimit|burstLimit))?$")


class TooManyRequestsException(JsonRESTError):
    code = 429

    def __init__(self):
        super().__init__("TooManyRequestsException", "Too Many Requests")


PACED_PLAN_WINDOW = 2.0
PLAN_CALLS = {}


def _plan_patch(self, patch_operations):
    if (self.name or "").startswith("paced-"):
        now = time.monotonic()
        # A deploy pipeline's call landed just before the first one made here.
        calls = PLAN_CALLS.setdefault(self.id, [(now, True)])
        accepted = [at for at, ok in calls if ok]
        if accepted and now - accepted[-1] < PACED_PLAN_WINDOW:
            calls.append((now, False))
            raise TooManyRequestsException()
        calls.append((now, True))
    rest = []
    for op in patch_operations:
        path = op["path"]
        match = API_STAGE_THROTTLE.match(path)
        if match:
            api_id, stage_name, key, field = match.groups()
            stage = next(
                (s for s in self.api_stages if s["apiId"] == api_id and s["stage"] == stage_name),
                None,
            )
            if stage is None:
                raise BadRequestException(f"API stage {api_id}:{stage_name} is not in usage plan {self.id}")
            throttle = stage.setdefault("throttle", {})
            if op["op"] == "remove" and field is None:
                throttle.pop(key, None)
            elif op["op"] in ("add", "replace") and field is not None:
                value = float(op["value"]) if field == "rateLimit" else int(op["value"])
                throttle.setdefault(key, {})[field] = value
            else:
                raise BadRequestException(f"Invalid patch path {path}")
        elif op["op"] in ("add", "replace") and path == "/throttle/rateLimit":
            self.throttle["rateLimit"] = float(op["value"])
        else:
            rest.append(op)
    _moto_plan_patch(self, rest)


UsagePlan.apply_patch_operations = _plan_patch


def _aws_new_method_setting(self):
    return {
        "metricsEnabled": False,
        "loggingLevel": "OFF",
        "dataTraceEnabled": False,
        "throttlingBurstLimit": 5000,
        "throttlingRateLimit": 10000.0,
        "cachingEnabled": False,
        "cacheTtlInSeconds": 300,
        "cacheDataEncrypted": False,
        "requireAuthorizationForCacheControl": True,
        "unauthorizedCacheControlHeaderStrategy": "SUCCEED_WITH_RESPONSE_HEADER",
    }


Stage._get_default_method_settings = _aws_new_method_setting
_moto_stage_patch = Stage.apply_operations
METHOD_ENTRY = re.compile(r"^/([^/]+/[^/]+)$")


def _stage_patch(self, patch_operations):
    rest = []
    for op in patch_operations:
        match = METHOD_ENTRY.match(op["path"])
        if op["op"] == "remove" and match:
            key = match.group(1)
            if key not in self.method_settings:
                raise BadRequestException(
                    f"Cannot remove method setting {key} because there is no method setting for this method"
                )
            del self.method_settings[key]
        else:
            rest.append(op)
    return _moto_stage_patch(self, rest)


Stage.apply_operations = _stage_patch

# ---- lastUpdatedDate (see the module's text) ----
from moto.apigateway.models import RestAPI

_moto_stage_init = Stage.__init__
_moto_stage_json = Stage.to_json
_moto_stage_operations = Stage.apply_operations


def _rest_stage_init(self, *args, **kwargs):
    _moto_stage_init(self, *args, **kwargs)
    self.stand_in_updated = time.time()


def _rest_stage_json(self):
    dct = _moto_stage_json(self)
    dct["lastUpdatedDate"] = int(self.stand_in_updated)
    return dct


def _rest_stage_operations(self, patch_operations):
    before = json.dumps(_moto_stage_json(self), sort_keys=True, default=str)
    answer = _moto_stage_operations(self, patch_operations)
    if json.dumps(_moto_stage_json(self), sort_keys=True, default=str) != before:
        self.stand_in_updated = time.time()
    return answer


_moto_rest_deploy = RestAPI.create_deployment


def _rest_deploy(self, name, description, stage_variables=None):
    existing = self.stages.get(name) if name else None
    deployment = _moto_rest_deploy(self, name, description, stage_variables)
    if existing is not None:
        existing.deployment_id = deployment.id
        existing.stand_in_updated = time.time()
        self.stages[name] = existing
    return deployment


Stage.__init__ = _rest_stage_init
Stage.to_json = _rest_stage_json
Stage.apply_operations = _rest_stage_operations
RestAPI.create_deployment = _rest_deploy
REST_STAGE_TAGS = re.compile(r"^/tags/arn:[^:]+:apigateway:([^:]*)::/restapis/([^/]+)/stages/([^/]+)$")


def _date_rest_stage_tagged(environ, status):
    """A REST stage's TagResource or UntagResource dates the stage."""
    if not 200 <= status < 300 or environ.get("REQUEST_METHOD") not in ("PUT", "DELETE"):
        return
    match = REST_STAGE_TAGS.match(unquote(environ.get("PATH_INFO", "")))
    if match is None:
        return
    access_key, region, account = _trail_caller(environ)
    if access_key.startswith("undated-"):
        return
    api = apigateway_backends[account][region].apis.get(match.group(2))
    stage = api.stages.get(match.group(3)) if api is not None else None
    if stage is not None:
        stage.stand_in_updated = time.time()

_moto_assume_role = STSBackend.assume_role


def _assume_role(self, region_name, role_session_name, role_arn, *args, **kwargs):
    if role_arn.split("/")[-1].startswith("untrusted-"):
        raise STSClientError(
            "AccessDenied",
            f"User: arn:aws:iam::123456789012:user/moto is not authorized to perform: "
            f"sts:AssumeRole on resource: {role_arn}"
        )
    return _moto_assume_role(self, region_name, role_session_name, role_arn, *args, **kwargs)


STSBackend.assume_role = _assume_role

stage_path = "{0}/v2/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)$"
v2_urls.url_paths[stage_path] = stage_or_update
v2_urls.url_paths[
    "{0}/v2/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)/routesettings/(?P<route_key>.+)$"
] = delete_route_settings
v2_urls.url_paths[
    "{0}/v2/tags/(?P<arn>[^/]+)/apis/(?P<api_id>[^/]+)/stages/(?P<stage_name>[^/]+)$"
] = stage_tags

# moto's API Gateway routes copy v2's when first imported: copy the stand-ins in too.
v1_urls.url_paths.update(v2_urls.url_paths)
v1_urls.url_paths["{0}/_stand_in/plan_calls/(?P<plan_id>[^/]+)$"] = plan_calls
v1_urls.url_paths[
    "{0}/tags/arn:(?P<partition>[^/]+):apigateway:(?P<region_name>[^/]+)::/usageplans/(?P<plan_id>[^/]+)$"
] = plan_tags


# =============================================================================================
# CloudTrail event history (LookupEvents), for `/throttle history` (issue 35).
#
# moto 5 has no LookupEvents. This section records the API Gateway management calls moto serves
# as CloudTrail management events, and answers LookupEvents from them, following the CloudTrail
# API reference, LookupEvents
# (https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html):
# - JSON 1.1 protocol; X-Amz-Target
#   `com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents` (the SDKs send its
#   last two parts, `CloudTrail_20131101.LookupEvents`);
# - zero or one LookupAttributes item (more: InvalidLookupAttributesException); EventName is
#   the attribute served here, the one `history` uses;
# - MaxResults 1-50, 50 when absent (else InvalidMaxResultsException); NextToken to go on,
#   valid only with the same parameters (else InvalidNextTokenException); StartTime and
#   EndTime in epoch seconds; events newest first;
# - "limited to two per second, per account, per Region": a token bucket of two, refilled at
#   two a second; a call over it is a ThrottlingException (HTTP 400).
# Each event's CloudTrailEvent follows the CloudTrail record contents reference: userIdentity
# (IAMUser with userName; AssumedRole with `…:assumed-role/ROLE/SESSION` and
# sessionContext.sessionIssuer, from moto's own STS), userAgent (the request's User-Agent),
# eventTime, eventSource, awsRegion, requestParameters (the call's URI parameters and body
# fields, by their API reference names) and eventID.
# Only calls on APIs whose name starts with `trailed-` are recorded, so that the other tests'
# calls do not fill the history these tests page through. `GET /_stand_in/cloudtrail_calls`
# lists each LookupEvents (region, throttled or not, when); `POST /_stand_in/cloudtrail_age` moves
# a region's recorded events back in time (`{"region", "seconds"}`), as history ages.
# =============================================================================================
import io
import threading
import uuid
from datetime import datetime, timezone

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sts.models import sts_backends

TRAIL_TARGET = "CloudTrail_20131101.LookupEvents"
TRAIL_EVENTS = {}  # (account, region) -> [event], oldest first
TRAIL_CALLS = []  # {"region", "throttled", "at"} per LookupEvents
TRAIL_BUCKETS = {}  # (account, region) -> (tokens, at)
TRAIL_LOCK = threading.Lock()
TRAIL_RATE = 2.0
TRAIL_PAGE = 50

TRAILED_CALLS = [
    ("PATCH", re.compile(r"^/restapis/([^/]+)/stages/([^/]+)$"), "UpdateStage", "rest"),
    ("PATCH", re.compile(r"^/v2/apis/([^/]+)/stages/([^/]+)$"), "UpdateStage", "v2"),
    ("DELETE", re.compile(r"^/v2/apis/([^/]+)/stages/([^/]+)/routesettings/(.+)$"), "DeleteRouteSettings", "v2"),
    ("POST", re.compile(r"^/restapis/([^/]+)/deployments$"), "CreateDeployment", "rest"),
    ("POST", re.compile(r"^/v2/apis/([^/]+)/deployments$"), "CreateDeployment", "v2"),
    ("PATCH", re.compile(r"^/usageplans/([^/]+)$"), "UpdateUsagePlan", "plan"),
    ("PUT", re.compile(r"^/tags/(.+)$"), "TagResource", "tags"),
    ("POST", re.compile(r"^/v2/tags/(.+)$"), "TagResource", "tags"),
    # UntagResource's keys are query parameters (`tagKeys`, repeated): recorded as a list.
    ("DELETE", re.compile(r"^/tags/(.+)$"), "UntagResource", "tags"),
    ("DELETE", re.compile(r"^/v2/tags/(.+)$"), "UntagResource", "tags"),
]
TAGGED_API = re.compile(r"::/(restapis|apis)/([^/]+)/stages/")
PLAN_API_STAGE = re.compile(r"^/apiStages/([^:/]+):")


def _trail_caller(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/", auth)
    access_key, region = (match.group(1), match.group(2)) if match else ("", "us-east-1")
    return access_key, region, get_account_id_from(access_key)


def _trail_identity(access_key, region, account):
    """userIdentity as CloudTrail records it, from moto's STS (assumed roles) or IAM."""
    for acct in list(sts_backends.keys()):
        for backend in list(sts_backends[acct].values()):
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is None:
                continue
            name, session = role.arn.split(":assumed-role/", 1)[1].split("/", 1)
            issuer = f"arn:aws:iam::{role.account_id}:role/{name}"
            return {
                "type": "AssumedRole",
                "principalId": role.user_id,
                "arn": role.arn,
                "accountId": role.account_id,
                "accessKeyId": access_key,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": role.user_id.split(":")[0],
                        "arn": issuer,
                        "accountId": role.account_id,
                        "userName": name,
                    }
                },
            }
    user_id, arn, acct = sts_backends[account]["aws"].get_caller_identity(access_key, region)
    name = arn.rsplit("/", 1)[1]
    return {
        "type": "IAMUser",
        "principalId": user_id,
        "arn": f"arn:aws:iam::{acct}:user/{name}",
        "accountId": acct,
        "accessKeyId": access_key,
        "userName": name,
    }


def _trail_api_name(account, region, api_id):
    rest = apigateway_backends[account][region].apis.get(api_id)
    if rest is not None:
        return rest.name or ""
    v2 = apigatewayv2_backends[account][region].apis.get(api_id)
    return (v2.name or "") if v2 is not None else ""


def _trailed(account, region, api_id):
    return _trail_api_name(account, region, api_id).startswith("trailed-")


def _trail_parameters(kind, match, body, account, region):
    """The call's requestParameters, or None when it is not about a trailed API."""
    groups = match.groups()
    if kind in ("rest", "v2"):
        if not _trailed(account, region, groups[0]):
            return None
        params = {("restApiId" if kind == "rest" else "apiId"): groups[0]}
        if len(groups) > 1:
            params["stageName"] = unquote(groups[1])
        if len(groups) > 2:
            params["routeKey"] = unquote(groups[2])
        params.update(body)
        return params
    if kind == "plan":
        apis = {m.group(1) for op in body.get("patchOperations", []) for m in [PLAN_API_STAGE.match(op.get("path", ""))] if m}
        if not any(_trailed(account, region, api) for api in apis):
            return None
        return {"usagePlanId": groups[0], **body}
    arn = unquote(groups[0])
    tagged = TAGGED_API.search(arn)
    if tagged is None or not _trailed(account, region, tagged.group(2)):
        return None
    return {"resourceArn": arn, **body}


def _trail_record(environ, body, status):
    if not 200 <= status < 300:
        return
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    for verb, pattern, name, kind in TRAILED_CALLS:
        match = pattern.match(path) if verb == method else None
        if match is None:
            continue
        access_key, region, account = _trail_caller(environ)
        try:
            fields = json.loads(body or b"{}")
        except ValueError:
            fields = {}
        if name == "UntagResource":
            pairs = [p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p]
            fields = {"tagKeys": [unquote(value) for key, value in pairs if key == "tagKeys"]}
        params = _trail_parameters(kind, match, fields, account, region)
        if params is None:
            return
        now = time.time()
        identity = _trail_identity(access_key, region, account)
        event = {
            "eventVersion": "1.09",
            "userIdentity": identity,
            "eventTime": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "apigateway.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": "127.0.0.1",
            "userAgent": environ.get("HTTP_USER_AGENT", ""),
            "requestParameters": params,
            "responseElements": None,
            "requestID": str(uuid.uuid4()),
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account,
            "eventCategory": "Management",
        }
        with TRAIL_LOCK:
            TRAIL_EVENTS.setdefault((account, region), []).append({"at": now, "event": event})
        return


def _trail_error(start_response, kind, message):
    start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")])
    return [json.dumps({"__type": kind, "message": message}).encode()]


def _trail_admit(key):
    """CloudTrail's two lookups a second per account and region, as a token bucket."""
    now = time.monotonic()
    tokens, at = TRAIL_BUCKETS.get(key, (TRAIL_RATE, now))
    tokens = min(TRAIL_RATE, tokens + (now - at) * TRAIL_RATE)
    admitted = tokens >= 1.0
    TRAIL_BUCKETS[key] = (tokens - 1.0 if admitted else tokens, now)
    return admitted


def _lookup_events(environ, body, start_response):
    access_key, region, account = _trail_caller(environ)
    with TRAIL_LOCK:
        admitted = _trail_admit((account, region))
        TRAIL_CALLS.append({"region": region, "throttled": not admitted, "at": time.time()})
        events = list(TRAIL_EVENTS.get((account, region), []))
    if not admitted:
        return _trail_error(start_response, "ThrottlingException", "Rate exceeded")
    request = json.loads(body or b"{}")
    attributes = request.get("LookupAttributes") or []
    if len(attributes) > 1:
        return _trail_error(start_response, "InvalidLookupAttributesException", "Only one lookup attribute is allowed")
    limit = request.get("MaxResults", TRAIL_PAGE)
    if not 1 <= limit <= TRAIL_PAGE:
        return _trail_error(start_response, "InvalidMaxResultsException", "MaxResults must be 1-50")
    start, end = request.get("StartTime"), request.get("EndTime")
    asked = json.dumps([attributes, start, end], sort_keys=True)
    wanted = attributes[0] if attributes else None
    if wanted is not None and wanted.get("AttributeKey") != "EventName":
        return _trail_error(start_response, "InvalidLookupAttributesException", "this stand-in serves EventName only")
    found = [
        e for e in reversed(events)
        if (wanted is None or e["event"]["eventName"] == wanted.get("AttributeValue"))
        and (start is None or e["at"] >= start)
        and (end is None or e["at"] <= end)
    ]
    offset = 0
    token = request.get("NextToken")
    if token:
        try:
            last_id, same = token.split("|", 1)
        except ValueError:
            last_id, same = "", ""
        ids = [e["event"]["eventID"] for e in found]
        if same != str(hash(asked)) or last_id not in ids:
            return _trail_error(start_response, "InvalidNextTokenException", "Invalid NextToken")
        offset = ids.index(last_id) + 1
    page = found[offset:offset + limit]
    answer = {
        "Events": [
            {
                "EventId": e["event"]["eventID"],
                "EventName": e["event"]["eventName"],
                "ReadOnly": "false",
                "AccessKeyId": e["event"]["userIdentity"].get("accessKeyId"),
                "EventTime": e["at"],
                "EventSource": "apigateway.amazonaws.com",
                "Username": e["event"]["userIdentity"].get("userName")
                or e["event"]["userIdentity"]["arn"].rsplit("/", 1)[1],
                "Resources": [],
                "CloudTrailEvent": json.dumps(e["event"]),
            }
            for e in page
        ]
    }
    if offset + limit < len(found):
        answer["NextToken"] = f"{page[-1]['event']['eventID']}|{hash(asked)}"
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1")])
    return [json.dumps(answer).encode()]


def _trail_stand_in(environ, body, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/_stand_in/cloudtrail_calls":
        with TRAIL_LOCK:
            calls = list(TRAIL_CALLS)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(calls).encode()]
    asked = json.loads(body or b"{}")
    with TRAIL_LOCK:
        for (_, region), events in TRAIL_EVENTS.items():
            if region == asked.get("region"):
                for e in events:
                    e["at"] -= asked.get("seconds", 0)
    start_response("204 No Content", [])
    return [b""]


_moto_dispatch = DomainDispatcherApplication.__call__


def _dispatch_with_trail(self, environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    if environ.get("HTTP_X_AMZ_TARGET", "").endswith(TRAIL_TARGET):
        return _lookup_events(environ, body, start_response)
    if environ.get("PATH_INFO", "").startswith("/_stand_in/cloudtrail_"):
        return _trail_stand_in(environ, body, start_response)
    seen = {}

    def recording_start_response(status, headers, *args):
        seen["status"] = int(status.split(" ", 1)[0])
        return start_response(status, headers, *args)

    answer = _moto_dispatch(self, environ, recording_start_response)
    _trail_record(environ, body, seen.get("status", 500))
    _date_rest_stage_tagged(environ, seen.get("status", 500))
    return answer


DomainDispatcherApplication.__call__ = _dispatch_with_trail
# ============================== end of the CloudTrail stand-in ===============================


# =============================================================================================
# Resource Groups Tagging API: GetResources for API Gateway (issue 33).
#
# moto's Tagging API leaves API Gateway out. This section answers GetResources whose
# ResourceTypeFilters are all `apigateway` from moto's own API Gateway backends (REST and HTTP
# stages, usage plans), following the Resource Groups Tagging API reference, GetResources
# (https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/API_GetResources.html):
# - JSON 1.1 protocol; X-Amz-Target `ResourceGroupsTaggingAPI_20170126.GetResources`;
# - TagFilters: each a Key and optional Values; a resource is listed when it carries every
#   filter's key (with one of the filter's values, when it gives any);
# - ResourcesPerPage 1-100 (100 when absent; else InvalidParameterException);
#   PaginationToken to go on, an empty PaginationToken on the last page;
# - ResourceTagMappingList: each ResourceARN and its Tags ([{Key, Value}]).
# ARNs as API Gateway's: `arn:aws:apigateway:<region>::/restapis/<id>/stages/<name>` (REST),
# `…::/apis/<id>/stages/<name>` (HTTP), `…::/usageplans/<id>`, in the caller's account and region.
# A caller whose access key starts with `no-tagging` is refused with AccessDeniedException, as
# an IAM policy without `tag:GetResources` is, so tests can take the sweep's fallback.
# `GET /_stand_in/tagging_calls` lists each GetResources (region, refused or not).
# =============================================================================================
TAGGING_TARGET = "ResourceGroupsTaggingAPI_20170126.GetResources"
TAGGING_CALLS = []  # {"region", "refused"} per GetResources
TAGGING_PAGE = 100


def _tagging_caller(environ):
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/", auth)
    return (match.group(1), match.group(2)) if match else ("", "us-east-1")


def _tagging_answer(start_response, status, payload):
    # With its length, as AWS answers (a chunked answer does not pass the tests' proxy).
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.1"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _api_gateway_tagged(account, region):
    """Every API Gateway stage and usage plan of one account and region, with its tags."""
    arn = f"arn:aws:apigateway:{region}::"
    v1 = apigateway_backends[account][region]
    for api_id, api in list(v1.apis.items()):
        for name, stage in list(api.stages.items()):
            yield f"{arn}/restapis/{api_id}/stages/{name}", dict(stage.tags or {})
    for plan_id, plan in list(v1.usage_plans.items()):
        tags = plan.tags if isinstance(plan.tags, dict) else {}
        yield f"{arn}/usageplans/{plan_id}", dict(tags)
    v2 = apigatewayv2_backends[account][region]
    for api_id, api in list(v2.apis.items()):
        for name, stage in list(api.stages.items()):
            yield f"{arn}/apis/{api_id}/stages/{name}", dict(stage.tags or {})


def _get_resources(environ, body, start_response):
    access_key, region = _tagging_caller(environ)
    asked = json.loads(body or b"{}")
    if any(kind.split(":")[0] != "apigateway" for kind in asked.get("ResourceTypeFilters", [])):
        return None
    refused = access_key.startswith("no-tagging")
    TAGGING_CALLS.append({"region": region, "refused": refused})
    if refused:
        return _tagging_answer(start_response, "400 Bad Request", {
            "__type": "AccessDeniedException",
            "Message": f"User: arn:aws:iam::123456789012:user/{access_key} is not authorized to "
                       "perform: tag:GetResources"})
    per_page = asked.get("ResourcesPerPage", TAGGING_PAGE)
    if not 1 <= per_page <= TAGGING_PAGE:
        return _tagging_answer(start_response, "400 Bad Request", {
            "__type": "InvalidParameterException",
            "Message": "ResourcesPerPage must be between 1 and 100"})
    filters = asked.get("TagFilters", [])

    def wanted(tags):
        return all(f["Key"] in tags and (not f.get("Values") or tags[f["Key"]] in f["Values"])
                   for f in filters)

    account = get_account_id_from(access_key)
    found = [(arn, tags) for arn, tags in _api_gateway_tagged(account, region) if wanted(tags)]
    start = int(asked.get("PaginationToken") or 0)
    page = found[start:start + per_page]
    token = str(start + per_page) if start + per_page < len(found) else ""
    return _tagging_answer(start_response, "200 OK", {
        "PaginationToken": token,
        "ResourceTagMappingList": [
            {"ResourceARN": arn, "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            for arn, tags in page
        ],
    })


_moto_dispatch_before_tagging = DomainDispatcherApplication.__call__


def _dispatch_with_tagging(self, environ, start_response):
    if environ.get("PATH_INFO", "") == "/_stand_in/tagging_calls":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(TAGGING_CALLS).encode()]
    if environ.get("HTTP_X_AMZ_TARGET", "") == TAGGING_TARGET:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        answer = _get_resources(environ, body, start_response)
        if answer is not None:
            return answer
    return _moto_dispatch_before_tagging(self, environ, start_response)


DomainDispatcherApplication.__call__ = _dispatch_with_tagging
# ============================= end of the Tagging API stand-in ===============================

# =============================================================================================
# CloudWatch GetMetricWidgetImage, for the traffic picture (issue 34).
#
# moto 5 has no GetMetricWidgetImage. This stand-in answers it as the CloudWatch API reference
# describes (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricWidgetImage.html):
# - the query protocol, as aws-sdk-cloudwatch up to 1.99 (the version the service uses) sends
#   every CloudWatch call: a form POST with `Action=GetMetricWidgetImage`, `Version=2010-08-01`,
#   `MetricWidget` (required: the widget's JSON, "Metric Widget Structure and Syntax") and
#   `OutputFormat` (`png` unless said);
# - the answer `GetMetricWidgetImageResponse/GetMetricWidgetImageResult/MetricWidgetImage`, the
#   image base64-encoded (a blob in the query protocol's XML);
# - a widget that is not JSON with a `metrics` list: HTTP 400 `InvalidParameterInput`.
# The PNG is a real one (a small blank image), not a drawing of the data. A widget whose
# dimensions name an API called `undrawable-…` is refused with `AccessDenied` (HTTP 403), as for
# an identity without `cloudwatch:GetMetricWidgetImage`. `GET /_stand_in/widget_calls` lists
# every widget asked for (its JSON) and whether it was drawn.

import base64
import struct
import zlib
from urllib.parse import parse_qs

WIDGET_CALLS = []
CLOUDWATCH_XMLNS = "http://monitoring.amazonaws.com/doc/2010-08-01/"


def _blank_png(width=8, height=4):
    """A valid PNG (8-bit greyscale, white), as any reader opens it."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def _cloudwatch_error(start_response, status, code, message):
    body = (f'<ErrorResponse xmlns="{CLOUDWATCH_XMLNS}"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
    body = body.encode()
    start_response(status, [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))])
    return [body]


def _metric_widget_image(body, start_response):
    fields = parse_qs(body.decode("utf-8", "replace"))
    raw = (fields.get("MetricWidget") or [""])[0]
    try:
        widget = json.loads(raw)
        if not isinstance(widget.get("metrics"), list):
            raise ValueError("no metrics")
    except (ValueError, AttributeError):
        WIDGET_CALLS.append({"widget": raw, "drawn": False})
        return _cloudwatch_error(start_response, "400 Bad Request", "InvalidParameterInput",
                                 "The MetricWidget parameter is not valid JSON with metrics")
    names = [str(part) for line in widget["metrics"] if isinstance(line, list) for part in line]
    if any(name.startswith("undrawable-") for name in names):
        WIDGET_CALLS.append({"widget": widget, "drawn": False})
        return _cloudwatch_error(
            start_response, "403 Forbidden", "AccessDenied",
            "User is not authorized to perform: cloudwatch:GetMetricWidgetImage")
    WIDGET_CALLS.append({"widget": widget, "drawn": True})
    image = base64.b64encode(_blank_png()).decode()
    answer = (f'<GetMetricWidgetImageResponse xmlns="{CLOUDWATCH_XMLNS}">'
              f"<GetMetricWidgetImageResult><MetricWidgetImage>{image}</MetricWidgetImage>"
              f"</GetMetricWidgetImageResult><ResponseMetadata><RequestId>{uuid.uuid4()}"
              f"</RequestId></ResponseMetadata></GetMetricWidgetImageResponse>")
    answer = answer.encode()
    start_response("200 OK", [("Content-Type", "text/xml"), ("Content-Length", str(len(answer)))])
    return [answer]


_moto_dispatch_before_widgets = DomainDispatcherApplication.__call__


def _dispatch_with_widgets(self, environ, start_response):
    if environ.get("PATH_INFO", "") == "/_stand_in/widget_calls":
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps(WIDGET_CALLS).encode()]
    is_form = environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded")
    if environ.get("REQUEST_METHOD") == "POST" and is_form:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if b"Action=GetMetricWidgetImage" in body:
            return _metric_widget_image(body, start_response)
    return _moto_dispatch_before_widgets(self, environ, start_response)


DomainDispatcherApplication.__call__ = _dispatch_with_widgets
# ======================= end of the GetMetricWidgetImage stand-in ============================

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
