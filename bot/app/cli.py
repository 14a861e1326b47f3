"""The `ptm` command line: one parser, each command handed to the module that does it."""

from __future__ import annotations

import argparse
from functools import partial
from importlib.metadata import PackageNotFoundError, version

from bot.app import jobs
from bot.app.config import database_url, load_settings
from bot.app.serving import quiet_closed_loop_threads, run_bot
from bot.domain.capability import CSV_HEADER
from bot.services.disclosures import CSV_HEADER as DISCLOSURE_HEADER

__all__ = ["main", "run_bot"]


def _version() -> str:
    try:
        return version("ptm")
    except PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    quiet_closed_loop_threads()
    parser = argparse.ArgumentParser(
        prog="ptm", description="PTM: partner co-sell deal cards in Slack."
    )
    parser.add_argument("--version", action="version", version=f"ptm {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # With many workspaces, a job works for one of them.
    workspace = argparse.ArgumentParser(add_help=False)
    workspace.add_argument(
        "--team",
        metavar="T…",
        help="many workspaces: the workspace (T…) or Grid org (E…) this is for",
    )
    sub.add_parser(
        "serve",
        help="run the bot (HTTP, or Socket Mode when SLACK_APP_TOKEN is set)",
        description="Run the bot: HTTP on PORT (POST /slack/events), or Socket Mode when "
        "SLACK_APP_TOKEN is set. Same as `python app.py`.",
    )
    digest = sub.add_parser(
        "digest",
        parents=[workspace],
        help="send today's digests now",
        description="Send today's digest DMs now, whatever the hour; still once a day per person.",
    )
    digest.add_argument(
        "--now",
        action="store_true",
        required=True,
        help="send today's digests now, whatever the hour (still once a day)",
    )
    digest.add_argument(
        "--user", action="append", metavar="USER_ID", help="only this Slack user (repeatable)"
    )
    partners = sub.add_parser(
        "partners",
        help="the partner capability map as CSV",
        description="Import or export the capability map (needs only DATABASE_URL).",
    )
    partner_sub = partners.add_subparsers(dest="action", required=True, metavar="ACTION")
    header = ",".join(CSV_HEADER)
    partner_sub.add_parser(
        "import",
        parents=[workspace],
        help="add or update partners by name from a CSV file",
        description=f"Add or update partners by name. FILE is UTF-8 CSV with the header "
        f"{header}; several values in one cell are separated by ';'. Bad rows are reported "
        "by line number while the good ones import.",
    ).add_argument("file", metavar="FILE", help=f"CSV file with the header {header}")
    partner_sub.add_parser(
        "export",
        parents=[workspace],
        help="write every partner to a CSV file",
        description="Write the map as CSV.",
    ).add_argument("file", metavar="FILE", help="where to write the CSV")
    outbox = sub.add_parser(
        "outbox",
        parents=[workspace],
        help="CRM deliveries: list dead letters, retry, export",
        description="CRM deliveries (needs only DATABASE_URL): `list` the dead letters, "
        "`retry` them, or `export FILE` the outcomes kept for a side without a connector.",
    )
    outbox.add_argument("action", nargs="?", choices=["list", "retry", "export"], default="list")
    outbox.add_argument("file", nargs="?", metavar="FILE", help="with export: the JSON file")
    report = sub.add_parser(
        "report",
        parents=[workspace],
        help="seller activation, win rates, attribution and the operator check",
        description="The metrics over every deal (needs only DATABASE_URL); UTC days.",
    )
    report.add_argument("--since", metavar="YYYY-MM-DD", help="first day (default: 90 days back)")
    report.add_argument("--until", metavar="YYYY-MM-DD", help="last day (default: today, UTC)")
    report.add_argument("--csv", metavar="FILE", help="also write every figure as CSV")
    report.add_argument("--chart", metavar="FILE.png", help="also draw the weekly trend as PNG")
    disclosed = sub.add_parser(
        "disclosures",
        parents=[workspace],
        help="what of our deals was shown or sent to other companies, and when",
        description="The disclosure ledger (needs only DATABASE_URL): every deal field shown "
        "or sent outside this workspace — card copies and their metadata in shared channels, "
        "briefs, the partner's CRM — with its version and the receiving company.",
    )
    disclosed.add_argument("--to", metavar="TEAM_ID", help="only what went to this team")
    disclosed.add_argument("--deal", metavar="KEY", help="only this deal (PTM-12)")
    disclosed.add_argument("--since", metavar="YYYY-MM-DD", help="only from this day on (UTC)")
    disclosed.add_argument(
        "--csv", metavar="FILE", help="write CSV (" + ",".join(DISCLOSURE_HEADER) + ")"
    )
    db = sub.add_parser(
        "db",
        help="the database schema",
        description="Apply the schema migrations, or show where the schema stands "
        "(needs only DATABASE_URL; back up before upgrading).",
    )
    db.add_argument(
        "action", choices=["upgrade", "status"], help="apply migrations / show revision"
    )
    db.add_argument(
        "--team-id",
        metavar="T…",
        help="with upgrade: the Slack workspace the data from before tenants belongs to "
        "(default: SLACK_BOT_TOKEN's, asked of Slack)",
    )
    org = sub.add_parser(
        "org",
        help="a workspace's data: purge",
        description="Delete all of a workspace's data for good (needs only DATABASE_URL).",
    )
    org_sub = org.add_subparsers(dest="action", required=True, metavar="ACTION")
    purge = org_sub.add_parser(
        "purge",
        help="export then delete everything of one workspace",
        description="Delete every deal, room, history, digest, outbox row, admin and Slack "
        "token of the workspace, and the workspace itself. Uninstall the app there first.",
    )
    purge.add_argument("team_id", metavar="TEAM_ID", help="the workspace (T…) or Grid org (E…)")
    purge.add_argument("--export", metavar="FILE", help="write everything to FILE (JSON) first")
    demo = sub.add_parser(
        "demo",
        help="try PTM without Slack: a local Slack in your browser",
        description="Start PTM unchanged beside a built-in Slack simulator (no Slack token "
        "needed) and print the address of its page: our seller, alliance manager and an "
        "outsider, a partner rep from another company, a Slack Connect deal room, an internal "
        "channel, DMs and App Home.",
    )
    demo.add_argument("--port", type=int, default=3000, help="port of the page (default 3000)")
    demo.add_argument(
        "--seed", action="store_true", help="load a capability map and a few deals first"
    )
    demo.add_argument(
        "--db", metavar="FILE", help="SQLite file to keep the demo in (default: a new one)"
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from bot.demo.run import run_demo  # the simulator loads only for the demo

        return run_demo(args.port, args.db, args.seed)
    if args.command == "org":
        return jobs.run_job(
            lambda url: jobs.purge_org(url, args.team_id, args.export), load=database_url
        )
    if args.command == "db":
        # Needs only DATABASE_URL: a deploy step can migrate without the Slack secrets.
        return jobs.run_job(
            lambda url: jobs.db_action(url, args.action, args.team_id), load=database_url
        )
    # These jobs only read and write the database: they run without Slack tokens.
    database_only = partial(load_settings, slack=False)
    if args.command == "report":
        return jobs.run_job(
            lambda settings: jobs.report(settings, args, team=args.team), load=database_only
        )
    if args.command == "disclosures":
        return jobs.run_job(
            lambda settings: jobs.disclosures(settings, args, team=args.team), load=database_only
        )
    if args.command == "outbox":
        return jobs.run_job(
            lambda settings: jobs.outbox(settings, args.action, args.file, team=args.team),
            load=database_only,
        )
    if args.command == "partners":
        if args.action == "import":
            return jobs.run_job(
                lambda s: jobs.import_partners(s, args.file, team=args.team), load=database_only
            )
        return jobs.run_job(
            lambda s: jobs.export_partners(s, args.file, team=args.team), load=database_only
        )
    if args.command == "serve":
        return run_bot()
    if args.command == "digest":
        return jobs.run_job(lambda settings: jobs.digest_now(settings, args.user, team=args.team))
    return 2
