"""Team isolation: from team A, try every id and number of team B (show, export, whatif, cancel, App Home,
block_actions with B's consultation ids, thread messages in B's threads): nothing of B is revealed or changed.

Commands go through the real bolt app (`app.dispatch` in-process, signed); clicks through
`bot.slack.actions.handle` (what the lazy listener runs); App Home through `bot.slack.home.view`.
"""

from __future__ import annotations

import json

import pytest
from slack_bolt.request import BoltRequest

from tests.fakes import event_body, signed_headers, slash_command_body
from tests.reliability.helpers import BOT_TOKEN, SECRET, Fake, dump, snapshot

A, B = "T0TEAMA", "T0TEAMB"
UA, UB = "U0ALICEA", "U0BOBB"
SECRET_MARK = "ZEBRA-B-ONLY"  # in every topic and rationale of team B


class NoClient:
    """A WebClient that must not be used."""

    def __getattr__(self, name):
        raise AssertionError(f"team A's click made a Web API call: {name}")


@pytest.fixture(scope="module")
def teams(tmp_path_factory):
    from bot.slack.app import build
    from bot.slack.config import SlackConfig
    from bot.store import Store

    db = tmp_path_factory.mktemp("teams") / "teams.db"
    store = Store(db)
    with Fake() as fake:
        cfg = SlackConfig(mode="http", api_url=fake.url, bot_token=BOT_TOKEN, signing_secret=SECRET)
        built = build(cfg, store)
        service = built.ctx.service
        answers = ["a web app", "about 30 of us", "large", "years", "no", "python", "no", "no", "no", "no", "no"]
        # Team A: one decision, one open consultation.
        ca, _ = service.start(A, "C0AAA", "100.1", UA, "team A topic")
        for t in answers:
            service.handle_text(A, ca.id, UA, t)
        service.decide(A, ca.id, UA, "flask", "team A reasons")
        service.start(A, "C0AAA", "100.2", UA, "team A open")
        # Team B: five decisions and three open consultations, all marked.
        for n in range(5):
            c, _ = service.start(B, f"C0BBB{n}", f"200.{n}", UB, f"{SECRET_MARK} topic {n}")
            for t in answers[: 2 + n]:
                service.handle_text(B, c.id, UB, t)
            service.decide(B, c.id, UB, "django", f"{SECRET_MARK} rationale {n}")
        open_b = [service.start(B, f"C0BBBX{n}", f"300.{n}", UB, f"{SECRET_MARK} open {n}")[0] for n in range(3)]
        for c in open_b[:2]:
            service.handle_text(B, c.id, UB, "a web app")
        yield {"db": str(db), "store": store, "built": built, "fake": fake, "open_b": open_b}


def _b_ids(store) -> dict[str, list[int]]:
    q = store.db.execute
    return {"decision_numbers": [r[0] for r in q("SELECT number FROM decisions WHERE team_id = ?", [B])],
            "decision_ids": [r[0] for r in q("SELECT id FROM decisions WHERE team_id = ?", [B])],
            "consultation_numbers": [r[0] for r in q("SELECT number FROM consultations WHERE team_id = ?", [B])],
            "consultation_ids": [r[0] for r in q("SELECT id FROM consultations WHERE team_id = ?", [B])]}


def _dispatch(app, text: str) -> dict:
    body, ct = slash_command_body(text=text, team_id=A, user_id=UA, channel_id="C0AAA")
    headers = {"content-type": [ct], **{k.lower(): [v] for k, v in signed_headers(SECRET, body).items()}}
    response = app.dispatch(BoltRequest(body=body.decode(), headers=headers))
    assert response.status == 200, response.body
    return json.loads(response.body) if response.body else {}


def test_commands_from_team_a_never_show_or_change_team_b(teams):
    store, app = teams["store"], teams["built"].app
    before = snapshot(teams["db"], B)
    assert "team A reasons" in dump(_dispatch(app, "show 1"))  # the control: A sees its own decision 1
    ids = _b_ids(store)
    numbers = sorted(set().union(*ids.values()) | {0, 10**6, 10**9 - 1})
    tried = 0
    for n in numbers:
        for text in (f"show {n}", f"export {n}", f"whatif {n} team_size=40", f"whatif #{n} app_type=rest_api",
                     f"cancel {n}", f"show #{n}", "history", "history 2", "compare"):
            ack = _dispatch(app, text)
            tried += 1
            assert SECRET_MARK not in dump(ack), f"/framework {text} from team A showed team B's data"
            assert "C0BBB" not in dump(ack)
    assert snapshot(teams["db"], B) == before
    print(f"\nisolation: {tried} team A commands over team B's {len(numbers)} ids/numbers: nothing revealed or changed")


def test_app_home_of_team_a_shows_only_team_a(teams):
    from bot.slack import home

    view = home.view(teams["built"].ctx, A, UA, "D0ALICE")
    text = dump(view)
    assert SECRET_MARK not in text and "C0BBB" not in text
    assert "team A" in text


@pytest.mark.parametrize("action_id", ["fa_answer_0", "fa_skip", "fa_decide_django", "fa_decide_node", "fa_how",
                                       "fa_changes"])
def test_clicks_from_team_a_with_team_b_consultation_ids_do_nothing(teams, action_id):
    from bot.slack import actions

    ctx, store = teams["built"].ctx, teams["store"]
    before_b, before_all = snapshot(teams["db"], B), snapshot(teams["db"])
    for cid in _b_ids(store)["consultation_ids"]:  # the id a button's value carries
        value = {"c": cid, "q": "app_type", "v": "rest_api", "f": "django"}
        body = {"type": "block_actions", "team": {"id": A}, "user": {"id": UA, "team_id": A},
                "container": {"message_ts": "1.1"}, "channel": {"id": "C0BBB0"}}
        actions.handle(ctx, body, {"action_id": action_id, "value": json.dumps(value), "action_ts": f"9.{cid}"},
                       NoClient())
    after = snapshot(teams["db"])
    assert snapshot(teams["db"], B) == before_b
    # Nothing queued either (no ephemeral "that is not the open question" or "closed" message leaks B's state).
    assert after["outbox"] == before_all["outbox"]


def test_a_message_from_team_a_in_team_b_thread_is_ignored(teams):
    """An event whose team is A, pointing at B's channel and thread, must not reach B's consultation."""
    app, store = teams["built"].app, teams["store"]
    before = snapshot(teams["db"], B)
    for c in teams["open_b"]:  # B's threads, each with a question open
        event = {"type": "message", "channel": c.channel, "user": UA, "text": "a web app", "ts": "400.1",
                 "thread_ts": c.thread_ts, "team": A}
        body, ct = event_body(event, team_id=A, event_id=f"EvCross{c.id}")
        headers = {"content-type": [ct], **{k.lower(): [v] for k, v in signed_headers(SECRET, body).items()}}
        assert app.dispatch(BoltRequest(body=body.decode(), headers=headers)).status == 200
    assert snapshot(teams["db"], B) == before
    assert store.db.execute("SELECT COUNT(*) FROM outbox WHERE channel LIKE 'C0BBB%'").fetchone()[0] == 0
