"""Salesforce: an External Client App's client-credentials token, SOQL reads, a compare-and-set
PATCH (`If-Unmodified-Since`) and one composite request per outcome.

A thin aiohttp client over the REST API rather than simple-salesforce: that library is
synchronous (`requests`: every call would hold a thread, and the event loop waits on none),
has no composite helper and insists on https, which no local stand-in speaks. The REST API is
small and documented; what we use of it is below.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.domain.crm import (
    CRM_STAGE_OF,
    SALESFORCE_ID,
    CompareAndSetFailed,
    CrmError,
    CrmKind,
    CrmRecord,
    CrmRef,
    Notification,
    OutcomeNote,
    RecordNotFound,
    amount_of,
    salesforce_org,
)
from bot.domain.model import Stage
from bot.domain.outbox import signature

API = "v62.0"
# Token lifetime is the org's session policy (client credentials say nothing); refresh well
# before the shortest one (15 minutes), and at once on a 401.
TOKEN_TTL = timedelta(minutes=10)
IDS_PER_QUERY = 200  # keeps a `WHERE Id IN (…)` query well under the URL length limit
BASE_FIELDS = (
    "Id", "Name", "Account.Name", "Amount", "CloseDate", "StageName", "NextStep",
    "SystemModstamp",
)  # fmt: skip


class SalesforceConnector:
    kind = CrmKind.SALESFORCE

    def __init__(
        self,
        instance_url: str,
        client_id: str,
        client_secret: str,
        *,
        session: aiohttp.ClientSession,
        timeout: float,
    ) -> None:
        self.instance_url = instance_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._token: tuple[str, str, datetime] | None = None  # (token, api base, fetched at)
        self._token_lock = asyncio.Lock()
        self._fields: tuple[str, ...] | None = None  # BASE_FIELDS + CurrencyIsoCode if any

    def __repr__(self) -> str:  # never the secret
        return f"SalesforceConnector({self.instance_url!r})"

    # --- references ------------------------------------------------------------------------

    async def resolve(self, ref: CrmRef) -> str:
        if ref.kind is not CrmKind.SALESFORCE:
            raise CrmError(
                "This side's CRM is Salesforce: give an opportunity id (`006…`) or its URL."
            )
        ours = salesforce_org(urlsplit(self.instance_url).hostname or "")
        if ref.host is not None and salesforce_org(ref.host) != ours:
            raise CrmError(
                f"That URL is another Salesforce org's (`{ref.host[:80]}`); PTM is connected "
                f"to `{urlsplit(self.instance_url).hostname}`. Use a link from that org."
            )
        return ref.record_id

    # --- reads -----------------------------------------------------------------------------

    async def fetch(self, record_id: str) -> CrmRecord:
        found = await self.fetch_many([record_id])
        if not found:
            raise RecordNotFound(
                f"Salesforce has no opportunity `{record_id[:20]}` that PTM's connection can "
                "read (a wrong id, a deleted record, or one its user may not see)."
            )
        return found[0]

    async def fetch_many(self, record_ids: Sequence[str]) -> list[CrmRecord]:
        ids = [i for i in dict.fromkeys(record_ids) if SALESFORCE_ID.fullmatch(i)]
        records: list[CrmRecord] = []
        for start in range(0, len(ids), IDS_PER_QUERY):
            chunk = ids[start : start + IDS_PER_QUERY]
            quoted = ",".join(f"'{i}'" for i in chunk)  # ids are checked: [A-Za-z0-9] only
            records += await self._query(f"WHERE Id IN ({quoted})")
        return records

    async def changed_since(self, since: datetime) -> list[CrmRecord]:
        stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return await self._query(f"WHERE SystemModstamp > {stamp} ORDER BY SystemModstamp")

    async def _query(self, where: str) -> list[CrmRecord]:
        fields = await self._opportunity_fields()
        soql = f"SELECT {', '.join(fields)} FROM Opportunity {where}"
        page = await self._call("GET", "/query", params={"q": soql})
        rows = list(page.get("records", []))
        while not page.get("done", True) and page.get("nextRecordsUrl"):
            page = await self._call("GET", str(page["nextRecordsUrl"]), absolute=True)
            rows += page.get("records", [])
        return [_record(row) for row in rows]

    async def _opportunity_fields(self) -> tuple[str, ...]:
        """CurrencyIsoCode exists in multi-currency orgs only (selecting it elsewhere is an
        error): the describe call, once, says which this org is."""
        if self._fields is None:
            described = await self._call("GET", "/sobjects/Opportunity/describe")
            names = {f.get("name") for f in described.get("fields", [])}
            extra = ("CurrencyIsoCode",) if "CurrencyIsoCode" in names else ()
            self._fields = BASE_FIELDS + extra
        return self._fields

    # --- writes ----------------------------------------------------------------------------

    async def update(
        self, record_id: str, values: Mapping[str, object], held: datetime
    ) -> CrmRecord:
        body = _sobject_values(values)
        if body:
            # HTTP dates have whole seconds: round up, so PTM's own last write (within the
            # second it read) is not taken for someone else's.
            since = held.astimezone(UTC).replace(microsecond=0)
            if held.microsecond:
                since += timedelta(seconds=1)
            headers = {"If-Unmodified-Since": format_datetime(since, usegmt=True)}
            try:
                await self._call(
                    "PATCH", f"/sobjects/Opportunity/{record_id}", json=body, headers=headers
                )
            except _PreconditionFailed:
                raise CompareAndSetFailed(await self.fetch(record_id)) from None
        return await self.fetch(record_id)

    async def log_outcome(
        self, record_id: str | None, note: OutcomeNote, raw: bytes, key: str
    ) -> None:
        """A completed Task on the opportunity and its Next Step, in one all-or-none
        composite request. The Task's subject carries the delivery's marker: a retry after a
        lost answer finds the Task it created and stops."""
        if record_id is None:
            raise CrmError("The deal is not linked to a Salesforce opportunity: `/ptm link`.")
        tag = f"[{note.marker}]"
        found = await self._call(
            "GET",
            "/query",
            params={
                "q": f"SELECT Id FROM Task WHERE WhatId = '{record_id}' "
                f"AND Subject LIKE '%{tag}%' LIMIT 1"  # marker: hex only, no quoting needed
            },
        )
        if found.get("totalSize", 0):
            return
        subrequests: list[dict[str, Any]] = [
            {
                "method": "POST",
                "url": f"/services/data/{API}/sobjects/Task",
                "referenceId": "outcome",
                "body": {
                    "WhatId": record_id,
                    "Subject": f"{note.subject[: 255 - len(tag) - 1]} {tag}",
                    "Description": note.body,
                    "ActivityDate": note.day.isoformat(),
                    "Status": "Completed",
                },
            }
        ]
        if note.next_step:
            subrequests.append(
                {
                    "method": "PATCH",
                    "url": f"/services/data/{API}/sobjects/Opportunity/{record_id}",
                    "referenceId": "nextStep",
                    "body": {"NextStep": note.next_step[:255]},
                }
            )
        answer = await self._call(
            "POST", "/composite", json={"allOrNone": True, "compositeRequest": subrequests}
        )
        failed = [
            r
            for r in answer.get("compositeResponse", [])
            if not 200 <= r.get("httpStatusCode", 0) < 300
        ]
        if failed:
            raise CrmError(f"Salesforce refused the outcome: {_first_error(failed[0].get('body'))}")

    # --- transport -------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        absolute: bool = False,
        params: Mapping[str, str] | None = None,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        for attempt in range(2):
            token, base = await self._access(fresh=attempt > 0)
            url = f"{base}{path}" if absolute else f"{base}/services/data/{API}{path}"
            async with self._session.request(
                method,
                url,
                params=params,
                json=json,
                headers={"Authorization": f"Bearer {token}", **(headers or {})},
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                if response.status == 401 and attempt == 0:
                    continue  # the token expired: one fresh token, one more try
                return await _answer(response)
        raise CrmError(
            "Salesforce refused PTM's access token twice: check the connector.",
            needs_attention=True,
        )

    async def _access(self, *, fresh: bool) -> tuple[str, str]:
        async with self._token_lock:
            now = datetime.now(UTC)
            stale = self._token is None or now - self._token[2] > TOKEN_TTL
            if fresh or stale:
                self._token = await self._fetch_token(now)
            return self._token[0], self._token[1]

    async def _fetch_token(self, now: datetime) -> tuple[str, str, datetime]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        async with self._session.post(
            f"{self.instance_url}/services/oauth2/token",
            data=form,
            timeout=self._timeout,
            allow_redirects=False,
        ) as response:
            if response.status in (400, 401, 403):
                raise CrmError(
                    "Salesforce refused the connector's client credentials "
                    f"(HTTP {response.status}): an admin must check the client id and secret.",
                    needs_attention=True,
                )
            if response.status >= 300:
                raise CrmError(f"Salesforce's token endpoint answered HTTP {response.status}.")
            body = await response.json(content_type=None)
        token = str(body.get("access_token") or "")
        if not token:
            raise CrmError(
                "Salesforce's token endpoint gave no access token.", needs_attention=True
            )
        # Calls go to the instance the token names (it may differ from the login host).
        base = str(body.get("instance_url") or self.instance_url).rstrip("/")
        return token, base, now


class _PreconditionFailed(Exception):
    pass


async def _answer(response: aiohttp.ClientResponse) -> dict[str, Any]:
    if response.status == 412:
        raise _PreconditionFailed
    if response.status == 204:
        return {}
    body = await response.json(content_type=None) if response.content_length != 0 else None
    if response.status in (401, 403):
        raise CrmError(
            f"Salesforce refused PTM's connection (HTTP {response.status}: "
            f"{_first_error(body)}): an admin must check its permissions.",
            needs_attention=True,
        )
    if response.status == 404:
        raise RecordNotFound(f"Salesforce has no such record ({_first_error(body)}).")
    if response.status >= 300:
        raise CrmError(f"Salesforce answered HTTP {response.status}: {_first_error(body)}")
    return body if isinstance(body, dict) else {"records": body}


def _first_error(body: object) -> str:
    """Salesforce errors are a list of {errorCode, message}; the first, bounded."""
    if isinstance(body, list) and body and isinstance(body[0], dict):
        first = body[0]
        return f"{first.get('errorCode', 'ERROR')}: {str(first.get('message', ''))[:200]}"
    return "no details"


def _record(row: Mapping[str, Any]) -> CrmRecord:
    account = row.get("Account") or {}
    return CrmRecord(
        kind=CrmKind.SALESFORCE,
        record_id=str(row["Id"]),
        name=str(row.get("Name") or ""),
        account=str(account.get("Name") or "") if isinstance(account, Mapping) else "",
        amount=amount_of(row.get("Amount")),
        currency=row.get("CurrencyIsoCode"),
        close_date=date.fromisoformat(row["CloseDate"]) if row.get("CloseDate") else None,
        stage=str(row.get("StageName") or ""),
        modified_at=parse_salesforce_time(str(row["SystemModstamp"])),
    )


def parse_salesforce_time(raw: str) -> datetime:
    """`2026-11-30T10:15:02.000+0000` (Salesforce's form) or ISO 8601 with Z."""
    text = raw.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


def _sobject_values(values: Mapping[str, object]) -> dict[str, object]:
    """PTM's field values as Opportunity fields."""
    out: dict[str, object] = {}
    for name, value in values.items():
        if name == "name" and value:
            out["Name"] = str(value)[:120]
        elif name == "amount":
            out["Amount"] = float(Decimal(str(value))) if value not in (None, "") else None
        elif name == "close_date" and value:
            out["CloseDate"] = str(value)
        elif name == "stage" and value:
            out["StageName"] = CRM_STAGE_OF[CrmKind.SALESFORCE][Stage(str(value))]
    return out


# --- notifications to PTM (POST /crm/salesforce) --------------------------------------------

MAX_NOTIFIED = 200
CLOCK_SKEW = timedelta(minutes=5)


class SalesforceNotifications:
    """A Flow or Apex callout: a JSON object (or a list of them) with at least the
    opportunity's `Id` and `SystemModstamp`, signed like PTM's own webhooks (`X-PTM-Signature`,
    HMAC-SHA256 of the raw body with the connector's notification secret)."""

    @staticmethod
    def record_ids(raw: bytes) -> list[str] | None:
        try:
            body = json.loads(raw)
            items = body if isinstance(body, list) else [body]
            if not items or len(items) > MAX_NOTIFIED:
                return None
            for item in items:
                parse_salesforce_time(str(item["SystemModstamp"]))
            return sorted({str(item["Id"]) for item in items})
        except (ValueError, KeyError, TypeError):
            return None

    @staticmethod
    def signed(call: Notification, secret: str, now: datetime) -> bool:  # noqa: ARG004
        given = call.headers.get("X-PTM-Signature", "")
        expected = signature(secret, call.raw)
        return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))

    @staticmethod
    def fresh(raw: bytes, now: datetime) -> bool:
        """A modification time in the future is forged, or from a clock PTM cannot trust."""
        body = json.loads(raw)
        items = body if isinstance(body, list) else [body]
        latest = now.astimezone(UTC) + CLOCK_SKEW
        return all(parse_salesforce_time(str(i["SystemModstamp"])) <= latest for i in items)
