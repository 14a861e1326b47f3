"""A local stand-in for the Salesforce REST API, shaped as Salesforce documents it: the OAuth
client-credentials token endpoint, SOQL queries (the subset PTM sends), Opportunity describe,
sObject PATCH with `If-Unmodified-Since` (412 when the record changed since), and composite
requests with `allOrNone` (all subrequests roll back together). Records change on its own clock,
one second and a quarter apart, so that HTTP-date rounding matters."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from aiohttp import web

API = "/services/data/v62.0"


@dataclass
class Opportunity:
    Id: str
    Name: str
    Account: str = ""
    Amount: float | None = None
    CurrencyIsoCode: str = "USD"
    CloseDate: str | None = None
    StageName: str = "Prospecting"
    NextStep: str | None = None
    SystemModstamp: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class FakeSalesforce:
    client_id: str = "ptm-client"
    client_secret: str = "ptm-client-secret"
    multi_currency: bool = True
    opportunities: dict[str, Opportunity] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)  # records the integration user may not see
    tasks: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    spent: list[float] = field(
        default_factory=list
    )  # seconds answering each request  # (method, path)
    tokens: set[str] = field(default_factory=set)
    issued: int = 0
    fail_composite: int = 0  # the next N composite requests fail (500)
    page_size: int = 2000
    slow_once: float = 0.0  # the next query's answer is read now and sent this much later
    port: int = 0
    clock: datetime = datetime(2026, 11, 24, 8, 0, 0, 250000, tzinfo=UTC)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def add(self, number: int, name: str, **fields: Any) -> Opportunity:
        opp = Opportunity(
            Id=f"006{number:012d}AAA", Name=name, SystemModstamp=self.tick(), **fields
        )
        self.opportunities[opp.Id] = opp
        return opp

    def change(self, record_id: str, **fields: Any) -> Opportunity:
        """Someone changes the record in Salesforce."""
        opp = self.opportunities[record_id]
        for name, value in fields.items():
            setattr(opp, name, value)
        opp.SystemModstamp = self.tick()
        return opp

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def requests(self, path_part: str = "") -> list[tuple[str, str]]:
        return [c for c in self.calls if path_part in c[1]]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/services/oauth2/token", self._token)
        app.router.add_get(f"{API}/sobjects/Opportunity/describe", self._describe)
        app.router.add_get(f"{API}/query", self._query)
        app.router.add_patch(f"{API}/sobjects/Opportunity/{{id}}", self._patch)
        app.router.add_post(f"{API}/composite", self._composite)
        app.middlewares.append(self._record)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        start = time.perf_counter()
        try:
            return await self.__record(request, handler)
        finally:
            self.spent.append(time.perf_counter() - start)

    async def __record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        if request.path != "/services/oauth2/token":
            auth = request.headers.get("Authorization", "")
            if auth.removeprefix("Bearer ") not in self.tokens:
                return web.json_response(
                    [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                    status=401,
                )
        return await handler(request)

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return web.json_response(
                {"error": "invalid_client", "error_description": "invalid client credentials"},
                status=400,
            )
        self.issued += 1
        token = f"00Dfake!token{self.issued}"
        self.tokens.add(token)
        return web.json_response(
            {"access_token": token, "instance_url": self.url, "token_type": "Bearer",
             "issued_at": "1764489600000"}
        )  # fmt: skip

    async def _describe(self, _request: web.Request) -> web.Response:
        names = ["Id", "Name", "AccountId", "Amount", "CloseDate", "StageName", "NextStep",
                 "SystemModstamp", "LastModifiedDate"]  # fmt: skip
        if self.multi_currency:
            names.append("CurrencyIsoCode")
        return web.json_response({"name": "Opportunity", "fields": [{"name": n} for n in names]})

    async def _query(self, request: web.Request) -> web.Response:
        soql = request.query.get("q", "")
        if "FROM Task" in soql:
            what = re.search(r"WhatId = '(\w+)'", soql)
            like = re.search(r"Subject LIKE '%(.+?)%'", soql)
            found = [
                {"Id": t["Id"]}
                for t in self.tasks
                if what and t["WhatId"] == what.group(1) and like and like.group(1) in t["Subject"]
            ]
            return web.json_response({"totalSize": len(found), "done": True, "records": found})
        if "CurrencyIsoCode" in soql and not self.multi_currency:
            return web.json_response(
                [{"message": "No such column 'CurrencyIsoCode'", "errorCode": "INVALID_FIELD"}],
                status=400,
            )
        visible = [o for o in self.opportunities.values() if o.Id not in self.hidden]
        ids = re.search(r"WHERE Id IN \(([^)]*)\)", soql)
        since = re.search(r"WHERE SystemModstamp > (\S+)", soql)
        if ids:
            wanted = set(re.findall(r"'(\w+)'", ids.group(1)))
            rows = [o for o in visible if o.Id in wanted]
        elif since:
            after = datetime.fromisoformat(since.group(1).replace("Z", "+00:00"))
            rows = sorted(
                (o for o in visible if o.SystemModstamp > after), key=lambda o: o.SystemModstamp
            )
        else:
            return web.json_response(
                [{"errorCode": "MALFORMED_QUERY", "message": soql}], status=400
            )
        records = [self._row(o, multi="CurrencyIsoCode" in soql) for o in rows]
        if self.slow_once:
            delay, self.slow_once = self.slow_once, 0.0
            await asyncio.sleep(delay)  # the records as they were when asked
        return web.json_response({"totalSize": len(records), "done": True, "records": records})

    def _row(self, o: Opportunity, *, multi: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "attributes": {"type": "Opportunity"},
            "Id": o.Id,
            "Name": o.Name,
            "Account": {"Name": o.Account} if o.Account else None,
            "Amount": o.Amount,
            "CloseDate": o.CloseDate,
            "StageName": o.StageName,
            "NextStep": o.NextStep,
            "SystemModstamp": o.SystemModstamp.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{o.SystemModstamp.microsecond // 1000:03d}+0000",
        }
        if multi:
            row["CurrencyIsoCode"] = o.CurrencyIsoCode
        return row

    async def _patch(self, request: web.Request) -> web.Response:
        opp = self.opportunities.get(request.match_info["id"])
        if opp is None or opp.Id in self.hidden:
            return web.json_response(
                [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}],
                status=404,
            )
        since = request.headers.get("If-Unmodified-Since")
        if since is not None and opp.SystemModstamp > parsedate_to_datetime(since):
            return web.Response(status=412)
        body = await request.json()
        for name, value in body.items():
            setattr(opp, name, value)
        opp.SystemModstamp = self.tick()
        return web.Response(status=204)

    async def _composite(self, request: web.Request) -> web.Response:
        body = await request.json()
        subrequests = body["compositeRequest"]
        assert len(subrequests) <= 25 and body.get("allOrNone") is True
        if self.fail_composite:
            self.fail_composite -= 1
            return web.json_response([{"errorCode": "SERVER_UNAVAILABLE"}], status=503)
        answers, created, changed = [], [], []
        for sub in subrequests:
            if sub["method"] == "POST" and sub["url"].endswith("/sobjects/Task"):
                task = {"Id": f"00T{len(self.tasks) + len(created):012d}AAA", **sub["body"]}
                if task.get("WhatId") not in self.opportunities or not task.get("Subject"):
                    return self._rolled_back(subrequests, "INVALID_CROSS_REFERENCE_KEY")
                created.append(task)
                created_body = {"id": task["Id"], "success": True, "errors": []}
                answers.append({"body": created_body, "httpStatusCode": 201,
                                "referenceId": sub["referenceId"]})  # fmt: skip
            elif sub["method"] == "PATCH" and "/sobjects/Opportunity/" in sub["url"]:
                record_id = sub["url"].rsplit("/", 1)[1]
                if record_id not in self.opportunities:
                    return self._rolled_back(subrequests, "NOT_FOUND")
                changed.append((record_id, sub["body"]))
                answers.append({"body": None, "httpStatusCode": 204,
                                "referenceId": sub["referenceId"]})  # fmt: skip
            else:
                return self._rolled_back(subrequests, "METHOD_NOT_ALLOWED")
        self.tasks += created
        for record_id, values in changed:
            self.change(record_id, **values)
        return web.json_response({"compositeResponse": answers})

    def _rolled_back(self, subrequests: list[dict[str, Any]], code: str) -> web.Response:
        return web.json_response(
            {
                "compositeResponse": [
                    {"body": [{"errorCode": code, "message": "rolled back (allOrNone)"}],
                     "httpStatusCode": 400, "referenceId": s["referenceId"]}
                    for s in subrequests
                ]
            }
        )  # fmt: skip
