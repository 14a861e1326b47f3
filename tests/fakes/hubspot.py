"""A local stand-in for HubSpot's CRM v3 API as documented: deals (batch read, search by
last-modified time, PATCH), companies (batch read) and their deal associations (v4), notes
(create with the required `hs_timestamp`, associations; search), a private app's bearer token,
and signed v3 webhook batches for PTM's `/crm/hubspot`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from aiohttp import web

from bot.adapters.crm.hubspot import sign_v3

DEAL_STAGES = {"appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
               "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"}  # fmt: skip
DEAL_PROPERTIES = {"dealname", "amount", "closedate", "dealstage", "pipeline",
                   "deal_currency_code", "hs_lastmodifieddate"}  # fmt: skip


def iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass
class FakeHubSpot:
    token: str = "pat-na1-ptm-token"
    client_secret: str = "hubspot-app-client-secret"
    portal_id: int = 4411
    deals: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> properties
    modified: dict[str, datetime] = field(default_factory=dict)
    companies: dict[str, str] = field(default_factory=dict)  # id -> name
    deal_company: dict[str, str] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    spent: list[float] = field(default_factory=list)  # seconds answering each request
    port: int = 0
    clock: datetime = datetime(2026, 11, 24, 8, 0, 0, 250000, tzinfo=UTC)
    _events: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def add(self, deal_id: int, name: str, *, company: str = "", **props: Any) -> str:
        key = str(deal_id)
        self.deals[key] = {"dealname": name, "pipeline": "default",
                           "dealstage": "appointmentscheduled", **props}  # fmt: skip
        self.modified[key] = self.tick()
        if company:
            company_id = str(900 + len(self.companies))
            self.companies[company_id] = company
            self.deal_company[key] = company_id
        return key

    def change(self, deal_id: str, **props: Any) -> datetime:
        self.deals[deal_id].update(props)
        self.modified[deal_id] = self.tick()
        return self.modified[deal_id]

    def requests(self, path_part: str = "") -> list[tuple[str, str]]:
        return [c for c in self.calls if path_part in c[1]]

    async def start(self) -> None:
        app = web.Application()
        r = app.router
        r.add_get(
            "/account-info/v3/details", lambda _r: web.json_response({"portalId": self.portal_id})
        )
        r.add_post("/crm/v3/objects/deals/batch/read", self._batch_read)
        r.add_post("/crm/v3/objects/deals/search", self._search)
        r.add_patch("/crm/v3/objects/deals/{id}", self._patch)
        r.add_post("/crm/v4/associations/deals/companies/batch/read", self._associations)
        r.add_post("/crm/v3/objects/companies/batch/read", self._companies)
        r.add_post("/crm/v3/objects/notes", self._create_note)
        r.add_post("/crm/v3/objects/notes/search", self._search_notes)
        app.middlewares.append(self._auth)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        start = time.perf_counter()
        try:
            return await self.__auth(request, handler)
        finally:
            self.spent.append(time.perf_counter() - start)

    async def __auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(
                {"status": "error", "message": "Authentication credentials not found.",
                 "category": "INVALID_AUTHENTICATION"},
                status=401,
            )  # fmt: skip
        return await handler(request)

    def _object(self, deal_id: str, wanted: list[str]) -> dict[str, Any]:
        props = {k: v for k, v in self.deals[deal_id].items() if k in wanted}
        props["hs_lastmodifieddate"] = iso(self.modified[deal_id])
        props["hs_object_id"] = deal_id
        return {"id": deal_id, "properties": props, "createdAt": iso(self.clock),
                "updatedAt": iso(self.modified[deal_id]), "archived": False}  # fmt: skip

    async def _account(self, _request: web.Request) -> web.Response:
        return web.json_response({"portalId": self.portal_id, "accountType": "STANDARD"})

    async def _batch_read(self, request: web.Request) -> web.Response:
        body = await request.json()
        assert len(body["inputs"]) <= 100
        wanted = body.get("properties") or []
        results = [self._object(i["id"], wanted) for i in body["inputs"] if i["id"] in self.deals]
        return web.json_response({"status": "COMPLETE", "results": results})

    async def _search(self, request: web.Request) -> web.Response:
        body = await request.json()
        [group] = body["filterGroups"]
        [flt] = group["filters"]
        assert flt["propertyName"] == "hs_lastmodifieddate" and flt["operator"] == "GT"
        after_ms = int(flt["value"])
        limit = int(body.get("limit", 10))
        assert limit <= 100
        matching = sorted(
            (d for d, at in self.modified.items() if at.timestamp() * 1000 > after_ms),
            key=lambda d: self.modified[d],
        )
        start = int(body.get("after") or 0)
        page = matching[start : start + limit]
        answer: dict[str, Any] = {
            "total": len(matching),
            "results": [self._object(d, body.get("properties") or []) for d in page],
        }
        if start + limit < len(matching):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return web.json_response(answer)

    async def _patch(self, request: web.Request) -> web.Response:
        deal_id = request.match_info["id"]
        if deal_id not in self.deals:
            return web.json_response({"status": "error", "message": "Object not found"}, status=404)
        props = (await request.json())["properties"]
        unknown = set(props) - DEAL_PROPERTIES
        if unknown or ("dealstage" in props and props["dealstage"] not in DEAL_STAGES):
            return web.json_response(
                {"status": "error", "message": f"Property values were not valid: {props}",
                 "category": "VALIDATION_ERROR"}, status=400,
            )  # fmt: skip
        self.change(deal_id, **props)
        return web.json_response(self._object(deal_id, sorted(DEAL_PROPERTIES)))

    async def _associations(self, request: web.Request) -> web.Response:
        body = await request.json()
        results = [
            {"from": {"id": i["id"]},
             "to": [{"toObjectId": int(self.deal_company[i["id"]]),
                     "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 5}]}]}
            for i in body["inputs"]
            if i["id"] in self.deal_company
        ]  # fmt: skip
        return web.json_response({"status": "COMPLETE", "results": results})

    async def _companies(self, request: web.Request) -> web.Response:
        body = await request.json()
        results = [{"id": i["id"], "properties": {"name": self.companies[i["id"]]}}
                   for i in body["inputs"] if i["id"] in self.companies]  # fmt: skip
        return web.json_response({"status": "COMPLETE", "results": results})

    async def _create_note(self, request: web.Request) -> web.Response:
        body = await request.json()
        props = body.get("properties") or {}
        if "hs_timestamp" not in props:
            return web.json_response(
                {"status": "error", "message": "hs_timestamp is required",
                 "category": "VALIDATION_ERROR"}, status=400,
            )  # fmt: skip
        for assoc in body.get("associations") or []:
            spec = assoc["types"][0]
            assert spec == {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}
            if assoc["to"]["id"] not in self.deals:
                return web.json_response({"status": "error", "message": "no such deal"}, status=400)
        note = {"id": str(7000 + len(self.notes)), "properties": props,
                "associations": body.get("associations") or []}  # fmt: skip
        self.notes.append(note)
        return web.json_response(note, status=201)

    async def _search_notes(self, request: web.Request) -> web.Response:
        body = await request.json()
        [flt] = body["filterGroups"][0]["filters"]
        found = [n for n in self.notes if flt["value"] in n["properties"].get("hs_note_body", "")]
        return web.json_response({"total": len(found), "results": found[:1]})

    # --- webhooks to PTM ---------------------------------------------------------------------

    def event(self, deal_id: str, prop: str = "amount", *, occurred: datetime | None = None,
              event_id: int | None = None) -> dict[str, Any]:  # fmt: skip
        self._events += 1
        return {
            "eventId": event_id if event_id is not None else 1000 + self._events,
            "subscriptionId": 77,
            "portalId": self.portal_id,
            "appId": 9,
            "occurredAt": int((occurred or self.modified[deal_id]).timestamp() * 1000),
            "subscriptionType": "deal.propertyChange",
            "attemptNumber": 0,
            "objectId": int(deal_id),
            "propertyName": prop,
            "propertyValue": str(self.deals[deal_id].get(prop, "")),
            "changeSource": "CRM_UI",
        }

    async def notify(
        self, url: str, events: list[dict[str, Any]], *, now: datetime,
        secret: str | None = None, signature: str | None = None,
    ) -> int:  # fmt: skip
        """POST a batch to PTM as HubSpot does at `now`, signed v3 (or as told, to test
        refusals)."""
        body = json.dumps(events)
        stamp = str(int(now.timestamp() * 1000))
        signed = signature if signature is not None else sign_v3(
            secret or self.client_secret, method="POST", uri=url, body=body, timestamp=stamp
        )  # fmt: skip
        headers = {"Content-Type": "application/json", "X-HubSpot-Signature-v3": signed,
                   "X-HubSpot-Request-Timestamp": stamp}  # fmt: skip
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=body, headers=headers) as response:
                return response.status
