"""Team polls against the fake Slack: `/framework poll` invites everyone, each member answers in a
private dialog, and the result says where the team disagrees and whether it matters.

Three members: one disagrees on hiring (which changes the recommendation: hiring soon points to
Flask), one on whether performance is critical (which changes nothing here)."""

from __future__ import annotations

import json
import time

from tests.fakes import FakeSlackWebAPI
from tests.fakes.signing import block_actions_body
from tests.reliability.helpers import (
    TEAM,
    inprocess_bot,
    post,
    query,
    send_command,
    send_submission,
    wait_drained,
    wait_until,
)
from tests.slack.helpers import dialog_state

A, B, C = "U0POLLA", "U0POLLB", "U0POLLC"
COMMON = {"q_app_type": "web_app", "q_team_language": "python", "q_flexibility": "no_preference",
          "q_realtime": "no", "q_database": "relational", "q_hiring": "no", "q_performance_critical": "no"}


def _thread_posts(fake: FakeSlackWebAPI, channel: str) -> list[dict]:
    return [m for m in fake.messages.get(channel, []) if m.get("thread_ts") and m.get("ts") != m.get("thread_ts")]


def _click(running, fake, channel: str, message: dict, action_id: str, value: dict, user: str) -> int:
    action = {"action_id": action_id, "block_id": "b", "value": json.dumps(value), "action_ts": f"{time.time():.6f}"}
    body, ct = block_actions_body([action], channel_id=channel, user_id=user, team_id=TEAM,
                                  message={"ts": message["ts"], "type": "message", "text": ""},
                                  response_url="http://127.0.0.1:9/unused", trigger_id=fake.trigger_id())
    return post(running.url, body, ct)


def _button(message: dict, action_id: str) -> dict:
    for b in message.get("blocks") or []:
        for e in b.get("elements") or []:
            if e.get("action_id") == action_id:
                return json.loads(e["value"])
    raise AssertionError(f"no {action_id} in {message.get('text')}")


def test_a_poll_shows_which_disagreement_matters(tmp_path) -> None:
    fake = FakeSlackWebAPI().start()
    try:
        with inprocess_bot(fake, tmp_path / "bot.db") as running:
            ch = "C0POLL1"
            assert send_command(running.url, fake, "poll billing service", ch, A) == 200
            invitation = wait_until(lambda: next((m for m in _thread_posts(fake, ch)
                                                  if "answer on their own" in m.get("text", "")), None), 10,
                                    "the invitation")
            value = _button(invitation, "fa_poll_answer")
            cid = query(running.db, "SELECT id FROM consultations WHERE channel = ?", [ch])[0][0]
            assert value["c"] == cid

            answers = {A: {**COMMON, "q_experience": "intermediate"}, B: {**COMMON, "q_hiring": "yes"},
                       C: {**COMMON, "q_performance_critical": "yes"}}
            for user, fields in answers.items():
                before = len(fake.calls_to("views.open"))
                assert _click(running, fake, ch, invitation, "fa_poll_answer", value, user) == 200
                view = wait_until(lambda b=before: [c.response["view"] for c in fake.calls_to("views.open")[b:]
                                                    if c.response and c.response.get("ok")], 5, "the dialog")[0]
                assert view["callback_id"] == "fa_poll" and view["title"]["text"] == "Your answers"
                assert send_submission(running.url, view, dialog_state(view, **fields), user=user) == 200
            wait_drained(running.db)
            stored = running.store.poll_answers(TEAM, value["p"])
            assert stored[B]["hiring"] == "yes" and stored[A]["experience"] == "intermediate" and len(stored) == 3
            # the invitation counts the answers in place
            assert "3 answered so far" in json.dumps(fake.calls_to("chat.update")[-1].params.get("blocks"))

            # A bad number comes back beside its field, nothing stored.
            before = len(fake.calls_to("views.open"))
            _click(running, fake, ch, invitation, "fa_poll_answer", value, A)
            view = wait_until(lambda: [c.response["view"] for c in fake.calls_to("views.open")[before:]
                                       if c.response and c.response.get("ok")], 5, "the dialog")[0]
            body = dialog_state(view, **{**COMMON, "q_team_size": "a dozen"})  # not a number
            from tests.fakes.signing import view_submission_body
            raw, ct = view_submission_body(view, body, user_id=A, team_id=TEAM)
            status, _, ack = running_post(running, raw, ct)
            assert status == 200 and json.loads(ack)["response_action"] == "errors"
            assert "q_team_size" in json.loads(ack)["errors"]
            assert "team_size" not in running.store.poll_answers(TEAM, value["p"])[A]

            assert _click(running, fake, ch, invitation, "fa_poll_result", value, A) == 200
            result = wait_until(lambda: next((m for m in _thread_posts(fake, ch)
                                              if m.get("text", "").startswith("*The team's answers*")), None), 10,
                                "the result")
            text = json.dumps(result["blocks"])
            hiring = next(b["text"]["text"] for b in result["blocks"] if b["type"] == "section"
                          and b["text"]["text"].startswith("*hiring*"))
            perf = next(b["text"]["text"] for b in result["blocks"] if b["type"] == "section"
                        and b["text"]["text"].startswith("*performance critical*"))
            assert f"<@{B}> says Yes" in hiring and "It matters" in hiring and "Flask" in hiring and "Django" in hiring
            assert f"<@{C}> says Yes" in perf and "Either way: Django" in perf
            assert f"<@{B}>: Flask" in text and f"<@{A}>: Django" in text  # each member's own recommendation
            # What everyone agrees on is now the consultation's; the disputed answers are not.
            wait_drained(running.db)
            st = running.built.ctx.service.state(TEAM, cid)
            assert st.answers["app_type"] == "web_app" and st.answers["database"] == "relational"
            assert not {"hiring", "performance_critical"} & set(st.answers)
            assert st.answers["experience"] == "intermediate"  # only A answered it, and nobody said otherwise

            # The team settles hiring with its button; the consultation goes on as usual.
            pick = next(e for b in result["blocks"] if b["type"] == "actions" and "hiring" in b["block_id"]
                        for e in b["elements"] if e["text"]["text"] == "Use No")
            assert _click(running, fake, ch, result, pick["action_id"], json.loads(pick["value"]), A) == 200
            wait_until(lambda: running.built.ctx.service.state(TEAM, cid).answers.get("hiring") == "no", 5,
                       "the settled answer")
    finally:
        fake.stop()


def running_post(running, body: bytes, ct: str):
    from tests.fakes import post_signed
    from tests.reliability.helpers import SECRET

    return post_signed(running.url, body, ct, SECRET)
