"""Slack Connect: in a shared channel a user of another organisation clicks and types."""

from __future__ import annotations

import json
import urllib.parse

from tests.slack.helpers import TEAM, Bot, button_for, next_question, now_ts, unique

OTHER_ORG, GUEST = "T0OTHERORG", "U0GUEST"


def test_a_click_by_a_user_of_another_organisation_is_recorded(bot: Bot) -> None:
    ch = unique("C0SHARED")
    root, first = bot.start(ch, "shared channel")
    cid = bot.consultation_id(ch, root.ts)
    action_id, value = button_for(first.params, "web_app")
    # Their click carries their own team id, not the installation's.
    body, ctype = bot.click_body(action_id, value, channel=ch, user=GUEST, team=OTHER_ORG, message_ts=first.ts,
                                 thread_ts=root.ts, action_ts=now_ts())
    assert bot.post(body, ctype)[0] == 200
    assert bot.next_post(ch, 2).question == next_question({"app_type": "web_app"})
    [entry] = bot.store().log(TEAM, cid)
    assert (entry.question, entry.value, entry.user_id) == ("app_type", "web_app", GUEST)


def test_the_fallback_does_not_reach_a_consultation_from_another_channel(bot: Bot) -> None:
    ch, elsewhere = unique("C0SHARED2"), unique("C0ELSEWHERE")
    root, first = bot.start(ch, "shared channel 2")
    cid = bot.consultation_id(ch, root.ts)
    action_id, value = button_for(first.params, "web_app")
    body, ctype = bot.click_body(action_id, value, channel=elsewhere, user=GUEST, team=OTHER_ORG,
                                 message_ts=first.ts, thread_ts=root.ts, action_ts=now_ts())
    assert bot.post(body, ctype)[0] == 200
    bot.say(ch, root.ts, "status")
    assert bot.next_post(ch, 2).text.startswith("*Status*")  # the foreign click changed nothing
    assert bot.store().log(TEAM, cid) == []


def test_an_org_wide_click_with_team_null_is_recorded(bot: Bot) -> None:
    ch = unique("C0ORGWIDE")
    root, first = bot.start(ch, "org-wide click")
    cid = bot.consultation_id(ch, root.ts)
    action_id, value = button_for(first.params, "web_app")
    body, ctype = bot.click_body(action_id, value, channel=ch, user="U0ORGUSER", team=TEAM, message_ts=first.ts,
                                 thread_ts=root.ts, action_ts=now_ts())
    payload = json.loads(urllib.parse.parse_qs(body.decode())["payload"][0])
    payload["team"] = None  # as Slack sends it for an org-wide installation
    body = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    assert bot.post(body, ctype)[0] == 200
    assert bot.next_post(ch, 2).question == next_question({"app_type": "web_app"})
    assert [(e.question, e.user_id) for e in bot.store().log(TEAM, cid)] == [("app_type", "U0ORGUSER")]
