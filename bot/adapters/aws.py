"""AWS Partner Central (the `partnercentral-selling` API) through boto3, AWS's own client.

boto3 is synchronous: each call runs in a worker thread, so the event loop never waits on AWS.
Credentials come from the standard chain (environment, profile, role); the region is
us-east-1, where the API lives; `AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING` / `AWS_ENDPOINT_URL`
point it elsewhere (a local stand-in), as botocore does by itself. boto3 is imported when the
first call is made: a PTM without AWS co-sell never loads it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain.cosell import AwsProblem, InvitationSummary, OpportunityState, Rule, TaskState

REGION = "us-east-1"
SERVICE = "partnercentral-selling"
IDS_PER_LIST = 20  # ListOpportunities' Identifier filter
IDS_PER_TASK_LIST = 10  # ListEngagementFromOpportunityTasks' OpportunityIdentifier filter
# Errors worth another try later (AWS said so, or it was not AWS's answer at all).
RETRYABLE = {"ThrottlingException", "InternalServerException", "ServiceUnavailable",
             "RequestTimeout", "ServiceQuotaExceededException"}  # fmt: skip
CREDENTIALS = {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException",
               "ExpiredToken", "AccessDeniedException", "InvalidSignatureException"}  # fmt: skip


class PartnerCentral:
    def __init__(self, *, catalog: str, solution_id: str, client: Any = None) -> None:
        self.catalog = catalog
        self.solution_id = solution_id
        self._client = client
        self._lock = threading.Lock()
        self._rules: dict[str, dict[str, Rule]] = {}

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (thread-safe: calls run in worker threads)."""
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                # A session of its own: credentials are resolved (and refreshed) for this
                # client, not cached process-wide by boto3's default session.
                self._client = boto3.session.Session().client(
                    SERVICE,
                    region_name=REGION,
                    config=Config(
                        retries={"mode": "standard", "max_attempts": 3},
                        connect_timeout=5,
                        read_timeout=15,
                    ),
                )
            return self._client

    # --- the service model's rules ---------------------------------------------------------

    def rules(self, operation: str) -> dict[str, Rule]:
        """Every member of the operation's input as a path ("Customer.Account.CompanyName",
        "[]" for list items) with its rule: required, enum, pattern, lengths."""
        if operation not in self._rules:
            shape = self.client.meta.service_model.operation_model(operation).input_shape
            found: dict[str, Rule] = {}
            _walk(shape, "", False, found, depth=0)
            self._rules[operation] = found
        return self._rules[operation]

    # --- submission ------------------------------------------------------------------------

    async def create_opportunity(self, params: Mapping[str, object]) -> str:
        answer = await self._call("create_opportunity", **params)
        return str(answer["Id"])

    async def associate_solution(self, opportunity_id: str) -> None:
        try:
            await self._call(
                "associate_opportunity",
                Catalog=self.catalog,
                OpportunityIdentifier=opportunity_id,
                RelatedEntityType="Solutions",
                RelatedEntityIdentifier=self.solution_id,
            )
        except AwsProblem as problem:
            if problem.code != "ConflictException":  # associated already: a resumed submission
                raise

    async def start_engagement(self, opportunity_id: str, client_token: str) -> TaskState:
        answer = await self._call(
            "start_engagement_from_opportunity_task",
            Catalog=self.catalog,
            ClientToken=client_token,
            Identifier=opportunity_id,
            AwsSubmission={"InvolvementType": "Co-Sell", "Visibility": "Full"},
        )
        return _task(answer)

    # --- keeping AWS current ------------------------------------------------------------------

    async def current_opportunity(self, opportunity_id: str) -> dict[str, Any]:
        """The opportunity as AWS holds it, trimmed to what UpdateOpportunity takes (which
        replaces the whole record), with its LastModifiedDate for the compare-and-set."""
        answer = await self._call(
            "get_opportunity", Catalog=self.catalog, Identifier=opportunity_id
        )
        shape = self.client.meta.service_model.operation_model("UpdateOpportunity").input_shape
        trimmed = _trim(answer, shape)
        trimmed["LastModifiedDate"] = answer["LastModifiedDate"]
        trimmed["Identifier"] = opportunity_id
        trimmed["Catalog"] = self.catalog
        return trimmed

    async def update_opportunity(self, params: Mapping[str, object]) -> None:
        try:
            await self._call("update_opportunity", **params)
        except AwsProblem as problem:
            if problem.code == "ConflictException":  # changed since PTM read it: read again
                raise AwsProblem(
                    "The AWS opportunity changed while PTM was updating it; PTM tries again.",
                    code=problem.code, retry=True,
                ) from None  # fmt: skip
            raise

    # --- status ------------------------------------------------------------------------------

    async def opportunities(self, ids: Sequence[str]) -> dict[str, OpportunityState]:
        """Review status, stage and last modification of many opportunities: one call per 20."""
        found: dict[str, OpportunityState] = {}
        for start in range(0, len(ids), IDS_PER_LIST):
            answer = await self._call(
                "list_opportunities",
                Catalog=self.catalog,
                Identifier=list(ids[start : start + IDS_PER_LIST]),
                MaxResults=IDS_PER_LIST,
            )
            for item in answer.get("OpportunitySummaries", []):
                life = item.get("LifeCycle") or {}
                found[str(item["Id"])] = OpportunityState(
                    review=str(life.get("ReviewStatus") or ""),
                    stage=str(life.get("Stage") or ""),
                    modified_at=item.get("LastModifiedDate"),
                    reason=str(life.get("ReviewStatusReason") or life.get("ReviewComments") or ""),
                )
        return found

    async def tasks(self, opportunity_ids: Sequence[str]) -> dict[str, TaskState]:
        """The latest engagement task of each opportunity: one call per 10."""
        found: dict[str, TaskState] = {}
        for start in range(0, len(opportunity_ids), IDS_PER_TASK_LIST):
            answer = await self._call(
                "list_engagement_from_opportunity_tasks",
                Catalog=self.catalog,
                OpportunityIdentifier=list(opportunity_ids[start : start + IDS_PER_TASK_LIST]),
                Sort={"SortOrder": "DESCENDING", "SortBy": "StartTime"},
            )
            for item in answer.get("TaskSummaries", []):
                found.setdefault(str(item.get("OpportunityId")), _task(item))
        return found

    async def aws_seller(self, opportunity_id: str) -> str:
        """Who at AWS works the opportunity (once AWS assigned someone)."""
        answer = await self._call(
            "get_aws_opportunity_summary",
            Catalog=self.catalog,
            RelatedOpportunityIdentifier=opportunity_id,
        )
        team = answer.get("OpportunityTeam") or []
        if not team:
            return ""
        first = team[0]
        name = " ".join(p for p in (first.get("FirstName"), first.get("LastName")) if p)
        return name or str(first.get("Email") or "")

    # --- referrals from AWS --------------------------------------------------------------------

    async def pending_invitations(self) -> list[InvitationSummary]:
        """Engagement invitations AWS sent us (as receiver) that wait for an answer."""
        found: list[InvitationSummary] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {
                "Catalog": self.catalog, "ParticipantType": "RECEIVER", "Status": ["PENDING"],
                "PayloadType": ["OpportunityInvitation"], "MaxResults": 50,
            }  # fmt: skip
            if token:
                params["NextToken"] = token
            answer = await self._call("list_engagement_invitations", **params)
            for item in answer.get("EngagementInvitationSummaries", []):
                found.append(
                    InvitationSummary(
                        invitation_id=str(item["Id"]),
                        title=str(item.get("EngagementTitle") or ""),
                        sender=str(item.get("SenderCompanyName") or "AWS"),
                        expires_at=item.get("ExpirationDate"),
                    )
                )
            token = answer.get("NextToken")
            if not token:
                return found

    async def invitation_details(self, invitation_id: str) -> dict[str, str]:
        """What the referral says of the customer and the project, flat."""
        answer = await self._call(
            "get_engagement_invitation", Catalog=self.catalog, Identifier=invitation_id
        )
        payload = (answer.get("Payload") or {}).get("OpportunityInvitation") or {}
        customer, project = payload.get("Customer") or {}, payload.get("Project") or {}
        spend = (project.get("ExpectedCustomerSpend") or [{}])[0]
        return {
            "company": str(customer.get("CompanyName") or ""),
            "website": str(customer.get("WebsiteUrl") or ""),
            "country": str(customer.get("CountryCode") or ""),
            "industry": str(customer.get("Industry") or ""),
            "title": str(project.get("Title") or answer.get("EngagementTitle") or ""),
            "problem": str(project.get("BusinessProblem") or ""),
            "close_date": str(project.get("TargetCompletionDate") or ""),
            "spend": str(spend.get("Amount") or ""),
            "currency": str(spend.get("CurrencyCode") or ""),
            "message": str(answer.get("InvitationMessage") or ""),
        }

    async def accept_invitation(self, invitation_id: str, client_token: str) -> TaskState:
        answer = await self._call(
            "start_engagement_by_accepting_invitation_task",
            Catalog=self.catalog, ClientToken=client_token, Identifier=invitation_id,
        )  # fmt: skip
        return _task(answer)

    async def reject_invitation(self, invitation_id: str, reason: str) -> None:
        await self._call(
            "reject_engagement_invitation",
            Catalog=self.catalog, Identifier=invitation_id, RejectionReason=reason,
        )  # fmt: skip

    # --- transport -----------------------------------------------------------------------------

    async def _call(self, method: str, **params: Any) -> dict[str, Any]:
        def call() -> dict[str, Any]:
            from botocore.exceptions import (
                BotoCoreError,
                ClientError,
                NoCredentialsError,
                ParamValidationError,
            )

            try:
                return dict(getattr(self.client, method)(**params))
            except NoCredentialsError:
                raise AwsProblem(
                    "PTM has no AWS credentials (environment, profile or role): an admin must "
                    "set them.",
                    code="NoCredentials",
                    attention=True,
                ) from None
            except ParamValidationError as err:
                raise AwsProblem(f"AWS would refuse this: {err}", code="ParamValidation") from None
            except ClientError as err:
                raise _problem(err) from None
            except BotoCoreError as err:  # endpoint unreachable, timeouts: worth retrying
                raise AwsProblem(
                    f"AWS could not be reached ({type(err).__name__}).", code="Unreachable",
                    retry=True,
                ) from None  # fmt: skip

        return await asyncio.to_thread(call)


def _problem(err: Any) -> AwsProblem:
    error = err.response.get("Error", {})
    code = str(error.get("Code", "Error"))
    message = str(error.get("Message", ""))[:300]
    if code in CREDENTIALS:
        return AwsProblem(
            f"AWS refused PTM's credentials ({code}): an admin must check them.",
            code=code,
            attention=True,
        )
    if code in RETRYABLE:
        return AwsProblem(f"AWS is busy or down ({code}); PTM tries again.", code=code, retry=True)
    if code == "ValidationException":
        return AwsProblem(f"AWS refused a value: {message}", code=code)
    if code == "ResourceNotFoundException":
        return AwsProblem(f"AWS does not know it: {message}", code=code)
    return AwsProblem(f"AWS said {code}: {message}", code=code)


def _trim(value: Any, shape: Any) -> Any:
    """`value` with only the members `shape` has (read-only members of a read dropped)."""
    if shape.type_name == "structure" and isinstance(value, Mapping):
        return {
            name: _trim(inner, shape.members[name])
            for name, inner in value.items()
            if name in shape.members
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_trim(item, shape.member) for item in value]
    return value


def _task(answer: Mapping[str, Any]) -> TaskState:
    return TaskState(
        task_id=str(answer.get("TaskId") or ""),
        status=str(answer.get("TaskStatus") or ""),
        reason=answer.get("ReasonCode"),
        message=answer.get("Message"),
        opportunity_id=answer.get("OpportunityId"),
    )


def _walk(shape: Any, path: str, required: bool, found: dict[str, Rule], *, depth: int) -> None:
    if depth > 8:
        return
    meta = shape.metadata
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            inner = f"{path}.{name}" if path else name
            _walk(member, inner, name in shape.required_members, found, depth=depth + 1)
        if path:
            found[path] = Rule(required=required)
        return
    if shape.type_name == "list":
        found[path] = Rule(required=required, min=meta.get("min"), max=meta.get("max"))
        _walk(shape.member, f"{path}[]", False, found, depth=depth + 1)
        return
    found[path] = Rule(
        required=required,
        enum=tuple(getattr(shape, "enum", None) or ()),
        pattern=meta.get("pattern"),
        min=meta.get("min"),
        max=meta.get("max"),
    )
