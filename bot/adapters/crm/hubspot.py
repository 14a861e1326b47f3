"""HubSpot: a private app's token, the CRM v3 deals API (batch reads, search, PATCH after a
last-modified check), notes associated with the deal, and v3 webhook signatures.

Requests go through aiohttp; what PTM sends is built and checked with hubspot-api-client's
own models (client-side validation on: enum values such as association categories and search
operators are refused before anything leaves). The client's transport is not used: it is
synchronous urllib3, which would hold a thread for every call of an asyncio service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
from hubspot.crm.deals import (
    ApiClient,
    BatchReadInputSimplePublicObjectId,
    Configuration,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInput,
)
from hubspot.crm.objects.notes import (
    AssociationSpec,
    PublicAssociationsForObject,
    PublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.utils.signature import Signature

from bot.domain.crm import (
    CRM_STAGE_OF,
    HUBSPOT_ID,
    CompareAndSetFailed,
    CrmError,
    CrmKind,
    CrmRecord,
    CrmRef,
    Notification,
    OutcomeNote,
    RecordNotFound,
    amount_of,
)
from bot.domain.model import Stage

PROPERTIES = [
    "dealname", "amount", "closedate", "dealstage", "pipeline", "deal_currency_code",
    "hs_lastmodifieddate",
]  # fmt: skip
NOTE_TO_DEAL = 214  # HubSpot-defined association type: note -> deal
PAGE = 100  # the search and batch APIs' most per request
SIGNATURE_MAX_AGE_MS = 5 * 60 * 1000

_VALIDATING = Configuration()
_VALIDATING.client_side_validation = True
_SERIALIZER = ApiClient(_VALIDATING)


def _json(model: object) -> Any:
    """A hubspot-api-client model as the JSON the API takes (its own attribute map)."""
    return _SERIALIZER.sanitize_for_serialization(model)


def valid_signature(
    client_secret: str, *, method: str, uri: str, body: str, signature: str, timestamp: str,
    now: datetime,
) -> bool:  # fmt: skip
    """HubSpot's v3 request signature (the vendor's own computation), not older than five
    minutes by PTM's clock."""
    if not signature or not timestamp.isdigit():
        return False
    if abs(now.timestamp() * 1000 - int(timestamp)) > SIGNATURE_MAX_AGE_MS:
        return False
    expected = Signature.get_signature(
        client_secret, body, signature_version="v3", http_uri=uri, http_method=method,
        timestamp=timestamp,
    )  # fmt: skip
    return hmac.compare_digest(expected, signature)


def sign_v3(client_secret: str, *, method: str, uri: str, body: str, timestamp: str) -> str:
    """What HubSpot sends in X-HubSpot-Signature-v3 (for stand-ins and benchmarks)."""
    source = f"{method}{uri}{body}{timestamp}".encode()
    return base64.b64encode(
        hmac.new(client_secret.encode(), source, hashlib.sha256).digest()
    ).decode()


class HubSpotConnector:
    kind = CrmKind.HUBSPOT

    def __init__(
        self, api_url: str, token: str, *, session: aiohttp.ClientSession, timeout: float
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self._token = token
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._portal: str | None = None

    def __repr__(self) -> str:  # never the token
        return f"HubSpotConnector({self.api_url!r})"

    # --- references ------------------------------------------------------------------------

    async def resolve(self, ref: CrmRef) -> str:
        if ref.kind is not CrmKind.HUBSPOT:
            raise CrmError("This side's CRM is HubSpot: give a deal id or its URL.")
        if ref.portal is not None:
            await self._check_portal(ref.portal)
        return ref.record_id

    async def _check_portal(self, portal: str) -> None:
        """A URL names its HubSpot account: it must be the one the token belongs to."""
        if self._portal is None:
            details = await self._call("GET", "/account-info/v3/details")
            self._portal = str(details.get("portalId", ""))
        if portal != self._portal:
            raise CrmError(
                f"That URL is HubSpot account {portal[:20]}'s; PTM is connected to account "
                f"{self._portal}. Use a link from that account."
            )

    # --- reads -----------------------------------------------------------------------------

    async def fetch(self, record_id: str) -> CrmRecord:
        if not HUBSPOT_ID.fullmatch(record_id):
            raise RecordNotFound(f"`{record_id[:20]}` is not a HubSpot deal id.")
        found = await self.fetch_many([record_id])
        if not found:
            raise RecordNotFound(
                f"HubSpot has no deal {record_id} that PTM's private app can read (a wrong "
                "id, a deleted deal, or one outside the app's scopes)."
            )
        return found[0]

    async def fetch_many(self, record_ids: Sequence[str]) -> list[CrmRecord]:
        ids = [i for i in dict.fromkeys(record_ids) if HUBSPOT_ID.fullmatch(i)]
        rows: list[Mapping[str, Any]] = []
        for start in range(0, len(ids), PAGE):
            request = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=i) for i in ids[start : start + PAGE]],
                properties=PROPERTIES,
                properties_with_history=[],
                local_vars_configuration=_VALIDATING,
            )
            answer = await self._call(
                "POST", "/crm/v3/objects/deals/batch/read", json=_json(request)
            )
            rows += answer.get("results", [])
        return await self._records(rows)

    async def changed_since(self, since: datetime) -> list[CrmRecord]:
        rows: list[Mapping[str, Any]] = []
        after: str | None = None
        stamp = str(int(since.timestamp() * 1000))
        while True:
            search = PublicObjectSearchRequest(
                filter_groups=[
                    FilterGroup(
                        filters=[
                            Filter(
                                property_name="hs_lastmodifieddate",
                                operator="GT",
                                value=stamp,
                                local_vars_configuration=_VALIDATING,
                            )
                        ],
                        local_vars_configuration=_VALIDATING,
                    )
                ],
                sorts=["hs_lastmodifieddate"],
                properties=PROPERTIES,
                limit=PAGE,
                after=after,
                local_vars_configuration=_VALIDATING,
            )
            page = await self._call("POST", "/crm/v3/objects/deals/search", json=_json(search))
            rows += page.get("results", [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return await self._records(rows)

    async def _records(self, rows: Sequence[Mapping[str, Any]]) -> list[CrmRecord]:
        """Records with their account: each deal's first associated company, its name read in
        one batch for all (two requests for any number of deals up to a page)."""
        ids = [str(r["id"]) for r in rows]
        companies: dict[str, str] = {}
        if ids:
            for start in range(0, len(ids), PAGE):
                links = await self._call(
                    "POST",
                    "/crm/v4/associations/deals/companies/batch/read",
                    json={"inputs": [{"id": i} for i in ids[start : start + PAGE]]},
                )
                for item in links.get("results", []):
                    to = item.get("to") or []
                    if to:
                        companies[str(item["from"]["id"])] = str(to[0]["toObjectId"])
        names: dict[str, str] = {}
        wanted = sorted(set(companies.values()))
        for start in range(0, len(wanted), PAGE):
            answer = await self._call(
                "POST",
                "/crm/v3/objects/companies/batch/read",
                json={"inputs": [{"id": i} for i in wanted[start : start + PAGE]],
                      "properties": ["name"]},
            )  # fmt: skip
            for company in answer.get("results", []):
                names[str(company["id"])] = str((company.get("properties") or {}).get("name") or "")
        return [_record(r, names.get(companies.get(str(r["id"]), ""), "")) for r in rows]

    # --- writes ----------------------------------------------------------------------------

    async def update(
        self, record_id: str, values: Mapping[str, object], held: datetime
    ) -> CrmRecord:
        """HubSpot has no conditional PATCH: read the record's last-modified time first and
        write only when nobody changed it since PTM last read it."""
        current = await self.fetch(record_id)
        if current.modified_at > held:
            raise CompareAndSetFailed(current)
        properties = _deal_properties(values)
        if not properties:
            return current
        body = SimplePublicObjectInput(properties=properties, local_vars_configuration=_VALIDATING)
        answer = await self._call("PATCH", f"/crm/v3/objects/deals/{record_id}", json=_json(body))
        return _record(answer, current.account)

    async def log_outcome(
        self, record_id: str | None, note: OutcomeNote, raw: bytes, key: str
    ) -> None:
        """A note (with its required hs_timestamp) associated with the deal. The body ends
        with the delivery's marker: a retry after a lost answer finds the note and stops."""
        if record_id is None:
            raise CrmError("The deal is not linked to a HubSpot deal: `/ptm link`.")
        tag = f"ptm-{note.marker}"
        search = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[
                        Filter(
                            property_name="hs_note_body",
                            operator="CONTAINS_TOKEN",
                            value=tag,
                            local_vars_configuration=_VALIDATING,
                        )
                    ],
                    local_vars_configuration=_VALIDATING,
                )
            ],
            properties=["hs_note_body"],
            limit=1,
            local_vars_configuration=_VALIDATING,
        )
        found = await self._call("POST", "/crm/v3/objects/notes/search", json=_json(search))
        if found.get("total", 0):
            return
        create = SimplePublicObjectInputForCreate(
            properties={
                "hs_timestamp": note.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "hs_note_body": f"<p>{_html(note.subject)}</p><p>{_html(note.body)}</p>"
                f"<p>{tag}</p>"[:65536],
            },
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=record_id, local_vars_configuration=_VALIDATING),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=NOTE_TO_DEAL,
                            local_vars_configuration=_VALIDATING,
                        )
                    ],
                    local_vars_configuration=_VALIDATING,
                )
            ],
            local_vars_configuration=_VALIDATING,
        )
        await self._call("POST", "/crm/v3/objects/notes", json=_json(create))

    # --- transport -------------------------------------------------------------------------

    async def _call(self, method: str, path: str, *, json: object = None) -> dict[str, Any]:
        async with self._session.request(
            method,
            f"{self.api_url}{path}",
            json=json,
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=self._timeout,
            allow_redirects=False,
        ) as response:
            body = await response.json(content_type=None) if response.status != 204 else {}
            if response.status == 401:
                raise CrmError(
                    "HubSpot refused the private app's access token: an admin must check the "
                    "connector.",
                    needs_attention=True,
                )
            if response.status == 403:
                raise CrmError(
                    f"HubSpot's private app may not do that ({_message(body)}): an admin must "
                    "grant it the CRM deal and note scopes.",
                    needs_attention=True,
                )
            if response.status == 404:
                raise RecordNotFound(f"HubSpot has no such record ({_message(body)}).")
            if response.status >= 300:
                raise CrmError(f"HubSpot answered HTTP {response.status}: {_message(body)}")
            return body if isinstance(body, dict) else {}


def _message(body: object) -> str:
    if isinstance(body, dict):
        return str(body.get("message") or body.get("category") or "no details")[:200]
    return "no details"


def _html(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")
    )


def _record(row: Mapping[str, Any], account: str) -> CrmRecord:
    props = row.get("properties") or {}
    return CrmRecord(
        kind=CrmKind.HUBSPOT,
        record_id=str(row["id"]),
        name=str(props.get("dealname") or ""),
        account=account,
        amount=amount_of(props.get("amount")),
        currency=props.get("deal_currency_code") or None,
        close_date=_day(props.get("closedate")),
        stage=str(props.get("dealstage") or ""),
        modified_at=_time(props.get("hs_lastmodifieddate") or row.get("updatedAt")),
    )


def _time(raw: object) -> datetime:
    text = str(raw or "1970-01-01T00:00:00Z")
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _day(raw: object) -> date | None:
    if not raw:
        return None
    text = str(raw)
    if re.fullmatch(r"\d+", text):
        return datetime.fromtimestamp(int(text) / 1000, UTC).date()
    return datetime.fromisoformat(text.replace("Z", "+00:00")).date()


def _deal_properties(values: Mapping[str, object]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in values.items():
        if name == "name" and value:
            out["dealname"] = str(value)
        elif name == "amount":
            out["amount"] = "" if value in (None, "") else str(value)
        elif name == "close_date" and value:
            out["closedate"] = f"{value}T00:00:00.000Z"
        elif name == "stage" and value:
            out["dealstage"] = CRM_STAGE_OF[CrmKind.HUBSPOT][Stage(str(value))]
    return out


# --- notifications to PTM (POST /crm/hubspot) -----------------------------------------------

MAX_EVENTS = 100


class HubSpotNotifications:
    """HubSpot's webhook batches: a JSON list of up to 100 events, signed v3 over method, URI,
    body and timestamp with the app's client secret; the deal events name the records."""

    @staticmethod
    def record_ids(raw: bytes) -> list[str] | None:
        try:
            body = json.loads(raw)
            if not isinstance(body, list) or len(body) > MAX_EVENTS:
                return None
            return sorted(
                {
                    str(item["objectId"])
                    for item in body
                    if str(item.get("subscriptionType", "")).startswith("deal.")
                }
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def signed(call: Notification, secret: str, now: datetime) -> bool:
        return valid_signature(
            secret,
            method=call.method,
            uri=call.uri,
            body=call.raw.decode("utf-8", "replace"),
            signature=call.headers.get("X-HubSpot-Signature-v3", ""),
            timestamp=call.headers.get("X-HubSpot-Request-Timestamp", ""),
            now=now,
        )

    @staticmethod
    def fresh(raw: bytes, now: datetime) -> bool:  # noqa: ARG004
        return True  # the signed timestamp is at most five minutes old
